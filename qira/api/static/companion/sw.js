// The service worker: the app shell from the cache, so the companion opens without
// the hub. VERSION is filled in by build.mjs (a hash of the shell), so a new build
// replaces the old cache.
const VERSION = '457c2ec521bc6b20'
const SHELL = ["./","app.css","app.js","icon-192.png","icon-512.png","icon-maskable-512.png","index.html","manifest.webmanifest"]
const CACHE = `qira-shell-${VERSION}`

self.addEventListener('install', event => {
  event.waitUntil(caches.open(CACHE).then(c => c.addAll(SHELL)).then(() => self.skipWaiting()))
})

self.addEventListener('activate', event => {
  event.waitUntil(caches.keys()
    .then(keys => Promise.all(keys.filter(k => k.startsWith('qira-shell-') && k !== CACHE).map(k => caches.delete(k))))
    .then(() => self.clients.claim()))
})

self.addEventListener('fetch', event => {
  const req = event.request
  const url = new URL(req.url)
  if (req.method !== 'GET' || url.origin !== self.location.origin) return
  if (url.pathname === '/health') {
    // the page asks whether the hub answers before it opens a WebSocket: say "unreachable"
    // instead of failing, so an offline retry leaves no error in the page's console
    event.respondWith(fetch(req).catch(() => new Response('{"status": "unreachable"}',
      { headers: { 'content-type': 'application/json' } })))
    return
  }
  if (url.pathname.startsWith('/ws') || url.pathname.startsWith('/v1/')) return
  if (req.mode === 'navigate') {
    // the network first (a new build shows at once), the cached shell when offline
    event.respondWith(fetch(req).catch(() => caches.match('./', { ignoreSearch: true })
      .then(r => r || caches.match('index.html'))))
    return
  }
  event.respondWith(caches.match(req, { ignoreSearch: true }).then(hit => hit || fetch(req)))
})

self.addEventListener('notificationclick', event => {
  event.notification.close()
  event.waitUntil(self.clients.matchAll({ type: 'window' }).then(list => list.length ? list[0].focus() : self.clients.openWindow('./')))
})
