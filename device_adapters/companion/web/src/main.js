// Qira companion: boot, pairing, and the glue between the link (protocol), the
// shared documents and the views. Plain DOM, no framework.

import { openStore } from './idb.js'
import { Link } from './link.js'
import { openDocs } from './docs.js'
import { View } from './view.js'
import { Talk } from './talk.js'
import { Mic, Player } from './voice.js'

const $ = id => document.getElementById(id)
const CLIENT = 'qira-companion/0.1'

function display () {
  // "resizable": a browser viewport can always change (rotation, a resized window,
  // a foldable or rollable screen); the hub shapes answers by width.
  return { width: Math.round(window.innerWidth), height: Math.round(window.innerHeight), resizable: true }
}

function capabilities () {
  // audio_in: push-to-talk streams the microphone; audio_out: the hub's speech is played
  return { screen: true, audio_in: Mic.supported(), audio_out: Player.supported(), runs_model: false, worn: false, display: display() }
}

async function boot () {
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch(() => {})
  const store = await openStore()
  const { docs, persisted } = await openDocs()
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`
  let view = null
  let talk = null
  const onEvent = ev => {
    if (ev.type !== 'audio.frame') view.onEvent(ev)
    if (talk) talk.onEvent(ev)
  }
  const link = new Link({ url: wsUrl, healthUrl: `${location.origin}/health`, store, docs, capabilities, client: CLIENT, onEvent })
  await link.load()
  view = new View({ link, store, docs })
  await view.restore()
  talk = new Talk({ link, store, me: () => view.me.device_id, deviceName: id => (view.devices.get(id) || {}).name })
  await talk.restore()
  window.qiraCompanion = { link, docs, view, talk } // for debugging and the end-to-end tests

  const hash = new URLSearchParams(location.hash.slice(1))
  const code = hash.get('pair')
  if (code) history.replaceState(null, '', location.pathname)
  if (link.token) {
    view.showShell()
    link.start()
  } else if (code) {
    view.showShell()
    link.start(code)
  } else {
    view.showPairing()
  }

  $('pair-form').addEventListener('submit', ev => {
    ev.preventDefault()
    const value = $('pair-code').value.trim()
    if (!value) return
    $('pair-error').textContent = ''
    view.showShell()
    link.start(value)
  })
  $('unpair').addEventListener('click', async () => {
    link.stop()
    await store.clear()
    await Promise.all(persisted.map(p => p.clearData()))
    location.reload()
  })

  window.addEventListener('offline', () => link.offline())
  window.addEventListener('online', () => { link.attempt = 0; link.connect() })
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) link.presence(true, {})
  })
  let reported = display()
  let pending = null
  window.addEventListener('resize', () => {
    view.layoutChanged() // re-flow at once; tell the hub once the size has settled
    clearTimeout(pending)
    pending = setTimeout(() => {
      const now = display()
      if (now.width === reported.width && now.height === reported.height) return
      reported = now
      link.presence(true, { display: now }) // the hub shapes the next answer to this size
    }, 250)
  })
  if (navigator.getBattery) {
    navigator.getBattery().then(b => {
      const report = () => link.presence(false, { battery: b.charging ? null : Math.round(b.level * 100) / 100 })
      b.addEventListener('levelchange', report)
      b.addEventListener('chargingchange', report)
    }).catch(() => {})
  }
}

boot().catch(err => {
  document.body.insertAdjacentHTML('beforeend', '<p role="alert" class="error"></p>')
  document.body.lastElementChild.textContent = `Qira could not start: ${err && err.message ? err.message : err}`
})
