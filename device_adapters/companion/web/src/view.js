// What the person sees: chat with streaming answers and route badges, threads,
// approval cards, notifications, memories, notes and reminders, devices, settings.

import { threadList, noteList, addNote, deleteNote, reminderList, hubPolicy } from './docs.js'

const $ = id => document.getElementById(id)

function el (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v)
    else if (k === 'class') node.className = v
    else node.setAttribute(k, v === true ? '' : v)
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c)
  return node
}

const ROUTE_WHY = {
  local: 'Answered on the hub, by a skill or the local model.',
  cloud: 'Answered by the cloud model.',
  fallback: 'The cloud did not answer, so the local model did.'
}

const when = ts => ts ? new Date(ts * 1000).toLocaleString() : ''

export class View {
  constructor ({ link, store, docs }) {
    this.link = link
    this.store = store
    this.docs = docs
    this.messages = new Map() // key -> message
    this.current = null // the open thread; null: the next message starts one
    this.approvals = new Map()
    this.devices = new Map()
    this.me = {}
    this.policy = null
    this.seenThreads = new Map() // threads seen here before the hub's threads document has them
    this.bind()
  }

  // -- setup ---------------------------------------------------------------

  bind () {
    for (const b of document.querySelectorAll('nav button')) b.addEventListener('click', () => this.show(b.dataset.view))
    $('composer').addEventListener('submit', ev => { ev.preventDefault(); this.send() })
    $('say').addEventListener('keydown', ev => {
      if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); this.send() }
    })
    $('new-thread').addEventListener('click', () => this.openThread(null))
    $('threads-toggle').addEventListener('click', () => this.showThreads($('thread-list').hidden))
    $('note-add').addEventListener('submit', ev => {
      ev.preventDefault()
      const text = $('note-text').value.trim()
      if (text) { this.addNote(text); $('note-text').value = '' }
    })
    $('memory-search').addEventListener('submit', ev => { ev.preventDefault(); this.searchMemory() })
    $('memory-add').addEventListener('submit', ev => { ev.preventDefault(); this.addMemory() })
    for (const radio of document.querySelectorAll('input[name="policy"]')) {
      radio.addEventListener('change', () => this.setPolicy(radio.value))
    }
    $('allow-notify').addEventListener('click', () => {
      if ('Notification' in window) Notification.requestPermission().then(p => { $('allow-notify').textContent = `System notifications: ${p}` })
    })
    $('status').addEventListener('click', () => { if (this.link.state !== 'online') { this.link.attempt = 0; this.link.connect() } })
    for (const name of ['threads', 'notes', 'reminders', 'settings']) {
      this.docs[name].on('update', () => this.renderDoc(name))
    }
    setInterval(() => this.expireApprovals(), 1000)
  }

  async restore () {
    this.me = { device_id: await this.store.get('device_id'), name: await this.store.get('name'), kind: await this.store.get('kind') }
    for (const m of await this.store.messages()) this.messages.set(m.key, m)
    for (const op of this.link.pending()) this.outboxOp(op)
    const threads = threadList(this.docs, this.seenThreads)
    this.current = (await this.store.get('current_thread')) || (threads[0] && threads[0].id) || null
    for (const name of ['threads', 'notes', 'reminders', 'settings']) this.renderDoc(name)
    this.renderMessages()
    this.renderMe()
    if (window.innerWidth < 480 && this.current) this.showThreads(false)
  }

  showPairing () { $('pairing').hidden = false; $('shell').hidden = true; $('pair-code').focus() }
  showShell () { $('pairing').hidden = true; $('shell').hidden = false }

  show (name) {
    for (const b of document.querySelectorAll('nav button')) {
      if (b.dataset.view === name) b.setAttribute('aria-current', 'page')
      else b.removeAttribute('aria-current')
    }
    for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== `view-${name}`
    if (name === 'talk') delete document.querySelector('nav button[data-view="talk"]').dataset.unread
    if (name === 'devices') this.refreshDevices()
  }

  layoutChanged () {
    // a narrow screen keeps the thread list folded away; growing the window unfolds it
    if (window.innerWidth >= 760) this.showThreads(true)
    else if (window.innerWidth < 480 && this.current) this.showThreads(false)
    this.renderApprovals()
  }

  showThreads (open) {
    $('thread-list').hidden = !open
    $('threads-toggle').setAttribute('aria-expanded', String(open))
  }

  touchThread (id, fields) {
    // the threads document is the hub's: what this device saw first is kept here until it lands
    const old = this.seenThreads.get(id) || {}
    this.seenThreads.set(id, { ...old, ...fields, title: old.title || fields.title, updatedAt: Date.now() / 1000 })
    this.renderThreads()
  }
  addNote (text) { return addNote(this.docs, text, this.me.name || 'companion') }

  // -- events from the link ------------------------------------------------

  onEvent (ev) {
    switch (ev.type) {
      case 'link.state': return this.status(ev)
      case 'link.ready': return this.ready(ev)
      case 'link.refused': return this.refused(ev)
      case 'outbox': return this.outboxOp(ev.op)
      case 'reply': return this.reply(ev.op, ev.reply)
      case 'chat.delta': return this.delta(ev)
      case 'chat.done': return this.done(ev)
      case 'approval.request': this.approvals.set(ev.approval, ev); return this.renderApprovals()
      case 'approval.resolved': this.approvals.delete(ev.approval); return this.renderApprovals()
      case 'notify': return this.notify(ev)
      case 'presence': return this.presence(ev)
      case 'hub.status': return this.hubStatus(ev)
      default:
    }
  }

  status ({ state, code, delay }) {
    const s = $('status')
    s.dataset.state = state
    const words = { online: 'online', connecting: 'connecting…', reconnecting: 'reconnecting…', offline: 'offline', paused: 'disconnected' }
    s.textContent = words[state] || state
    s.title = state === 'reconnecting' && delay ? `next try in ${(delay / 1000).toFixed(1)} s` : ''
    if (state === 'paused') {
      if (code === 4004) this.toast({ title: 'Open elsewhere', text: 'This companion is open in another tab or window.' })
      else this.unpaired(code === 4003 ? 'This device was revoked on the hub: pair it again.' : 'The hub did not accept this device: pair it again.')
    }
  }

  async unpaired (message) {
    await this.store.setMany({ token: null })
    this.link.token = null
    this.showPairing()
    // the hub's own words (a wrong code, a lockout) say more than the close code
    $('pair-error').textContent = this.refusal || message
    this.refusal = null
  }

  refused ({ code, message }) {
    this.refusal = `${message || code} (${code})`
  }

  async ready (result) {
    this.me = { device_id: result.device_id, name: result.name, kind: result.kind }
    this.renderMe()
    this.showShell()
    this.link.request('approval.list').then(r => {
      for (const a of r.approvals || []) this.approvals.set(a.approval, a)
      this.renderApprovals()
    }).catch(() => {})
    this.link.request('hub.status').then(s => this.hubStatus(s)).catch(() => {})
    this.refreshDevices()
  }

  outboxOp (op) {
    if (op.type !== 'chat.send') return
    const key = `u:${op.seq}`
    if (!this.messages.has(key)) {
      const m = { key, role: 'user', text: op.payload.text, thread: op.payload.thread || null, turn: null, pending: true, at: op.at / 1000 }
      this.messages.set(key, m)
      this.store.putMessage(m)
    }
    this.renderMessages()
  }

  reply (op, reply) {
    if (op.type !== 'chat.send') return
    const m = this.messages.get(`u:${op.seq}`)
    if (!m) return
    m.pending = false
    if (reply.ok && reply.result.thread) {
      m.thread = reply.result.thread
      m.turn = reply.result.turn
      if (!this.current || this.current === op.payload.thread) this.current = m.thread
      this.store.setMany({ current_thread: this.current })
      this.touchThread(m.thread, { title: m.text.slice(0, 60), last: m.text.slice(0, 120) })
      const a = this.assistant(m.thread, m.turn)
      a.waiting = true
    } else if (!reply.ok) {
      m.error = reply.message || reply.code
    }
    this.store.putMessage(m)
    this.renderMessages()
  }

  assistant (thread, turn) {
    const key = `a:${turn}`
    let m = this.messages.get(key)
    if (!m) {
      m = { key, role: 'assistant', text: '', thread, turn, at: Date.now() / 1000, next: 0 }
      this.messages.set(key, m)
    }
    return m
  }

  delta (ev) {
    const m = this.assistant(ev.thread, ev.turn)
    if (m.done || ev.index < (m.next || 0)) return
    m.text += ev.text
    m.next = ev.index + 1
    m.waiting = false
    const node = document.querySelector(`#messages li[data-key="a:${ev.turn}"] .text`)
    if (node) node.textContent = m.text
    else this.renderMessages()
  }

  done (ev) {
    const m = this.assistant(ev.thread, ev.turn)
    Object.assign(m, { text: ev.text, route: ev.route, degraded: !!ev.degraded, reason: ev.reason || null, fallback: ev.fallback || null, done: true, waiting: false })
    this.store.putMessage(m)
    this.touchThread(ev.thread, { last: String(ev.text).slice(0, 120) })
    this.renderMessages()
  }

  notify (ev) {
    const open = ev.kind === 'handoff' && ev.data && ev.data.thread ? ev.data.thread : null
    this.toast({ title: ev.title, text: ev.text, action: open ? ['Open thread', () => { this.show('chat'); this.openThread(open) }] : null })
    if (document.hidden && 'Notification' in window && Notification.permission === 'granted') {
      navigator.serviceWorker.getRegistration().then(reg => {
        if (reg) reg.showNotification(ev.title || 'Qira', { body: ev.text, tag: `qira-${ev.hub_seq}` })
        else new Notification(ev.title || 'Qira', { body: ev.text }) // eslint-disable-line no-new
      }).catch(() => {})
    }
  }

  toast ({ title, text, action }) {
    const node = el('div', { class: 'toast', role: 'status' }, el('strong', {}, title || 'Qira'), ' ', text || '')
    if (action) node.append(el('button', { type: 'button', class: 'secondary', onclick: () => { action[1](); node.remove() } }, action[0]))
    node.append(el('button', { type: 'button', class: 'secondary', 'aria-label': 'Dismiss', onclick: () => node.remove() }, '×'))
    $('toasts').append(node)
    setTimeout(() => node.remove(), 15000)
  }

  presence (ev) {
    this.devices.set(ev.device, { ...(this.devices.get(ev.device) || {}), ...ev })
    this.renderDevices()
  }

  hubStatus (s) {
    if (!s || !s.policy) return
    this.policy = s.policy
    this.renderPolicy()
  }

  // -- chat ----------------------------------------------------------------

  async send () {
    const text = $('say').value.trim()
    if (!text) return
    $('say').value = ''
    const payload = this.current ? { text, thread: this.current } : { text }
    await this.link.submit('chat.send', payload)
  }

  async openThread (id) {
    this.current = id
    this.store.setMany({ current_thread: id })
    this.renderThreads()
    this.renderMessages()
    if (id && ![...this.messages.values()].some(m => m.thread === id)) {
      try {
        const h = await this.link.request('chat.history', { thread: id })
        h.messages.forEach((msg, i) => {
          const m = { key: `h:${id}:${i}`, role: msg.role, text: msg.content, thread: id, at: i / 1000, done: true }
          this.messages.set(m.key, m)
          this.store.putMessage(m)
        })
        const first = h.messages.find(msg => msg.role === 'user')
        if (first) this.touchThread(id, { title: first.content.slice(0, 60) })
        this.renderMessages()
      } catch (err) {
        this.toast({ title: 'Thread', text: err.message })
      }
    }
    $('say').focus()
  }

  renderMessages () {
    const list = $('messages')
    const shown = [...this.messages.values()]
      .filter(m => this.current ? m.thread === this.current : (m.pending && !m.thread))
      .sort((a, b) => a.at - b.at)
    list.replaceChildren(...shown.map(m => this.message(m)))
    const last = list.lastElementChild
    if (last && last.scrollIntoView) last.scrollIntoView({ block: 'end' })
  }

  message (m) {
    const li = el('li', { class: `${m.role}${m.pending ? ' pending' : ''}`, 'data-key': m.key },
      el('span', { class: 'text' }, m.text || (m.waiting ? '…' : '')))
    if (m.role === 'assistant' && m.turn && !this.asked(m.turn)) li.prepend(el('span', { class: 'from' }, 'asked on another device'))
    if (m.pending) li.append(el('span', { class: 'meta' }, this.link.state === 'online' ? 'sending…' : 'waiting to send'))
    if (m.error) li.append(el('span', { class: 'meta error' }, m.error))
    if (m.role === 'assistant' && m.done && m.route) {
      const label = m.fallback || m.degraded ? 'fallback' : m.route
      // chat.done may carry the human reason (`reason`, or `fallback` when the cloud failed before answering)
      const said = [m.reason, m.fallback].find(x => typeof x === 'string' && x)
      const why = el('span', { class: 'reason', hidden: true }, said || ROUTE_WHY[label] || label)
      const badge = el('button', { type: 'button', class: `badge ${label}`, 'aria-expanded': 'false', 'aria-label': `route: ${label}, show why` }, label)
      badge.addEventListener('click', () => {
        why.hidden = !why.hidden
        badge.setAttribute('aria-expanded', String(!why.hidden))
      })
      li.append(el('span', { class: 'meta' }, badge), why)
    }
    return li
  }

  asked (turn) {
    for (const m of this.messages.values()) if (m.role === 'user' && m.turn === turn) return true
    return false
  }

  renderThreads () {
    const items = threadList(this.docs, this.seenThreads)
    $('thread-list').replaceChildren(...items.map(t => el('li', {},
      el('button', { type: 'button', 'aria-current': t.id === this.current ? 'true' : null, onclick: () => this.openThread(t.id), title: t.last },
        t.title))))
  }

  // -- approvals -----------------------------------------------------------

  renderApprovals () {
    const cards = [...this.approvals.values()].sort((a, b) => (a.expires_at || 0) - (b.expires_at || 0))
    $('approvals').replaceChildren(...cards.map(a => el('div', { class: 'card approval', 'data-approval': a.approval },
      el('h2', {}, 'Approve?'),
      el('p', {}, a.summary || a.skill),
      el('p', { class: 'muted' }, `${a.skill} · risk ${a.risk || 'high'}`),
      el('div', { class: 'row' },
        el('button', { type: 'button', onclick: () => this.answer(a.approval, true) }, 'Approve'),
        el('button', { type: 'button', class: 'secondary', onclick: () => this.answer(a.approval, false) }, 'Deny')))))
  }

  async answer (id, approve) {
    try {
      await this.link.request('approval.respond', { approval: id, approve })
    } catch (err) {
      if (err.code !== 'approval_resolved' && err.code !== 'approval_not_found') this.toast({ title: 'Approval', text: err.message })
    }
    this.approvals.delete(id)
    this.renderApprovals()
  }

  expireApprovals () {
    const now = Date.now() / 1000
    let changed = false
    for (const [id, a] of this.approvals) if (a.expires_at && a.expires_at < now) { this.approvals.delete(id); changed = true }
    if (changed) this.renderApprovals()
  }

  // -- memory --------------------------------------------------------------

  async searchMemory () {
    const query = $('memory-query').value.trim()
    if (!query) return
    try {
      const r = await this.link.request('memory.search', { query, k: 10 })
      this.renderMemories(r.hits.map(h => h.memory))
    } catch (err) {
      $('memory-list').replaceChildren(el('li', { class: 'error' }, err.message))
    }
  }

  async addMemory () {
    const text = $('memory-text').value.trim()
    if (!text) return
    try {
      const r = await this.link.request('memory.add', { text, scope: $('memory-scope').value })
      $('memory-text').value = ''
      this.renderMemories([r.memory].filter(Boolean), `Memory ${r.action}.`)
    } catch (err) {
      $('memory-list').replaceChildren(el('li', { class: 'error' }, err.message))
    }
  }

  renderMemories (memories, note = null) {
    const items = memories.map(m => {
      const li = el('li', {}, el('span', { class: 'badge' }, m.scope), ' ', m.text, ' ',
        el('span', { class: 'muted' }, m.kind))
      li.append(' ', el('button', { type: 'button', class: 'secondary', onclick: () => this.confirmForget(li, m) }, 'Forget'))
      return li
    })
    if (note) items.unshift(el('li', { role: 'status' }, note))
    if (!items.length) items.push(el('li', { class: 'muted' }, 'Nothing found.'))
    $('memory-list').replaceChildren(...items)
  }

  confirmForget (li, m) {
    // Forgetting cannot be undone: it asks first, like the forget skill's approval.
    const card = el('div', { class: 'card approval' }, el('p', {}, `Forget “${m.text}”? This cannot be undone.`),
      el('div', { class: 'row' },
        el('button', {
          type: 'button',
          onclick: async () => {
            try {
              await this.link.request('memory.forget', { memory_id: m.id })
              li.replaceChildren(el('span', { class: 'muted' }, `Forgotten: ${m.text}`))
            } catch (err) { card.replaceChildren(el('p', { class: 'error' }, err.message)) }
          }
        }, 'Approve'),
        el('button', { type: 'button', class: 'secondary', onclick: () => card.remove() }, 'Deny')))
    li.append(card)
  }

  // -- shared documents ----------------------------------------------------

  renderDoc (name) {
    if (name === 'threads') this.renderThreads()
    if (name === 'notes') {
      const notes = noteList(this.docs)
      $('side-notes').replaceChildren(...(notes.length ? notes.slice(0, 8).map(n => el('li', {}, n.text)) : [el('li', { class: 'muted' }, 'No notes.')]))
      $('note-list').replaceChildren(...notes.map(n => el('li', { 'data-note': n.id },
        el('span', {}, n.text), ' ', el('span', { class: 'muted' }, `${n.device} · ${when(n.at)}`), ' ',
        el('button', { type: 'button', class: 'secondary', 'aria-label': `Delete note ${n.text}`, onclick: () => deleteNote(this.docs, n.id) }, 'Delete'))))
    }
    if (name === 'reminders') {
      const items = reminderList(this.docs).map(r => el('li', {}, r.text, ' ',
        el('span', { class: 'muted' }, r.due ? when(r.due) : (r.trigger ? `when ${r.trigger}` : ''))))
      const empty = () => [el('li', { class: 'muted' }, 'No reminders.')]
      $('reminder-list').replaceChildren(...(items.length ? items : empty()))
      $('side-reminders').replaceChildren(...(items.length ? items.map(i => i.cloneNode(true)) : empty()))
    }
    if (name === 'settings') {
      const p = hubPolicy(this.docs)
      if (p) { this.policy = p; this.renderPolicy() }
    }
  }

  renderPolicy () {
    const pill = $('policy')
    pill.hidden = !this.policy
    pill.textContent = this.policy || ''
    for (const radio of document.querySelectorAll('input[name="policy"]')) radio.checked = radio.value === this.policy
  }

  async setPolicy (value) {
    try {
      const r = await this.link.request('settings.set', { key: 'inference.policy', value })
      this.policy = r.value
      $('settings-msg').textContent = `Policy is now ${r.value} (was ${r.previous}).`
    } catch (err) {
      $('settings-msg').textContent = `Not changed: ${err.message}`
    }
    this.renderPolicy()
  }

  // -- devices -------------------------------------------------------------

  async refreshDevices () {
    if (this.link.state !== 'online') return this.renderDevices()
    try {
      const r = await this.link.request('devices.list')
      for (const d of r.devices || []) this.devices.set(d.device, d)
    } catch { /* an older hub: presence events fill the list */ }
    this.renderDevices()
  }

  renderDevices () {
    const list = [...this.devices.values()].sort((a, b) => (b.online - a.online) || String(a.name).localeCompare(b.name))
    $('device-list').replaceChildren(...list.map(d => {
      const c = d.capabilities || {}
      const bits = [d.kind, d.online ? 'online' : `offline${d.last_seen ? `, seen ${when(d.last_seen)}` : ''}`]
      if (typeof c.battery === 'number') bits.push(`battery ${Math.round(c.battery * 100)}%`)
      if (c.worn) bits.push('worn')
      return el('li', { 'data-device': d.device }, el('strong', {}, d.name || d.device),
        d.device === this.me.device_id ? ' (this device)' : '', el('br'), el('span', { class: 'muted' }, bits.join(' · ')))
    }))
  }

  renderMe () {
    $('me').textContent = this.me.name ? `${this.me.name} (${this.me.kind}), ${this.me.device_id}` : 'not paired yet'
  }
}
