// The Talk panel: push-to-talk (voice chat with Qira, or a two-way translated
// conversation), live captions in both languages from this or any of the person's
// devices, the view turned toward the other person, and the hub's speech played back.
// docs/protocol.md, "Speech and translation messages".

import { Mic, Player } from './voice.js'

const $ = id => document.getElementById(id)
const LANGUAGES = ['en', 'pt', 'es', 'fr', 'de', 'it', 'ca', 'gl']
const HOLD_MS = 400 // pressed longer than this: push-to-talk (release sends); shorter: tap to start, tap to stop
const KEPT = 60 // captions kept on screen

function el (tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue
    if (k === 'class') node.className = v
    else node.setAttribute(k, v === true ? '' : v)
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c)
  return node
}

const names = (() => {
  try { return new Intl.DisplayNames([navigator.language || 'en'], { type: 'language' }) } catch { return null }
})()
export const languageName = code => {
  if (!code) return ''
  try { return (names && names.of(code)) || code } catch { return code }
}

// What the person reads when the microphone cannot be used.
export function micMessage (err) {
  const name = err && err.name
  if (name === 'InsecureContext') return 'The microphone needs a secure page: open the companion over https:// (or on localhost).'
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
    return 'Qira may not use the microphone: allow it for this site in the browser’s settings, then try again.'
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'DevicesNotFoundError') return 'No microphone was found on this device.'
  if (name === 'NotReadableError' || name === 'AbortError') return 'The microphone could not start: another app may be using it.'
  if (name === 'NotSupportedError') return 'This browser cannot record audio.'
  return `The microphone could not start: ${(err && err.message) || err}`
}

// What the person reads when the hub refuses or fails a stream.
export function hubMessage (code, message) {
  if (code === 'unknown_type') return 'This hub does not understand speech: its [speech] section is turned off.'
  if (code === 'speech_unavailable') return `The hub cannot turn speech into text right now. ${message || ''}`.trim()
  if (code === 'closed') return 'The connection to the hub dropped while you were talking: try again once it is back.'
  return `${message || 'The hub refused'} (${code})`
}

export class Talk {
  constructor ({ link, store, me, deviceName }) {
    this.link = link
    this.store = store
    this.me = me // () -> this device's id
    this.deviceName = deviceName // device id -> its name
    this.captions = new Map() // key -> caption, oldest first
    this.active = null // the stream being recorded
    this.counter = 0
    this.conversations = {} // mode -> conversation id: the next press continues it
    this.flipped = false
    this.player = new Player({ onChange: () => this.renderSound() })
    this.settings = { mode: 'translate', mine: 'en', theirs: 'pt' }
    // speech that came before any gesture waits in a suspended audio context: a tap lets it out
    window.addEventListener('pointerdown', () => { if (this.player.ctx) this.player.unlock() }, true)
    document.addEventListener('visibilitychange', () => { if (document.hidden && this.active) this.release() })
  }

  async restore () {
    const saved = await this.store.get('talk')
    const guess = String(navigator.language || 'en').slice(0, 2).toLowerCase()
    if (saved) Object.assign(this.settings, saved)
    else if (LANGUAGES.includes(guess)) Object.assign(this.settings, { mine: guess, theirs: guess === 'pt' ? 'en' : 'pt' })
    this.conversations = (await this.store.get('talk_conversations')) || {}
    this.bind()
    this.renderSettings()
  }

  bind () {
    for (const id of ['lang-mine', 'lang-theirs']) {
      $(id).replaceChildren(...LANGUAGES.map(code => el('option', { value: code }, languageName(code))))
      $(id).addEventListener('change', () => this.changed())
    }
    for (const radio of document.querySelectorAll('input[name="talk-mode"]')) radio.addEventListener('change', () => this.changed())
    $('talk-new').addEventListener('click', () => this.newConversation())
    $('face').addEventListener('click', () => this.face(true))
    $('face-close').addEventListener('click', () => this.face(false))
    $('flip').addEventListener('click', () => { this.flipped = !this.flipped; this.renderFacing() })
    $('facing').addEventListener('keydown', ev => { if (ev.key === 'Escape') this.face(false) })

    // Push-to-talk: hold (pointer, or Space/Enter while the button has focus) and
    // release to send; a short tap starts it and a second tap stops it. A plain click
    // with neither (a screen reader's activation) toggles.
    const ptt = $('ptt')
    let pressed = false
    const down = () => { pressed = true; this.downAt = performance.now(); this.press() }
    const up = () => {
      if (!pressed) return
      pressed = false
      if (this.active && this.active.byPress && performance.now() - this.downAt >= HOLD_MS) this.release()
    }
    ptt.addEventListener('pointerdown', ev => {
      if (ev.button !== 0) return
      ev.preventDefault() // keeps focus handling and text selection out of the way of a long press
      ptt.setPointerCapture && ptt.setPointerCapture(ev.pointerId)
      this.viaPointer = true
      down()
    })
    ptt.addEventListener('pointerup', up)
    ptt.addEventListener('pointercancel', up)
    ptt.addEventListener('keydown', ev => {
      if (ev.key !== ' ' && ev.key !== 'Enter') return
      ev.preventDefault() // no synthetic click
      if (!ev.repeat) down()
    })
    ptt.addEventListener('keyup', ev => { if (ev.key === ' ' || ev.key === 'Enter') { ev.preventDefault(); up() } })
    ptt.addEventListener('click', ev => {
      if (this.viaPointer) { this.viaPointer = false; return }
      if (ev.detail === 0) this.press() // keyboard-less activation (assistive technology)
    })
    ptt.addEventListener('contextmenu', ev => ev.preventDefault()) // a long touch is talking, not a menu
  }

  changed () {
    const mode = document.querySelector('input[name="talk-mode"]:checked')
    const next = { mode: mode ? mode.value : 'translate', mine: $('lang-mine').value, theirs: $('lang-theirs').value }
    const languagesChanged = next.mine !== this.settings.mine || next.theirs !== this.settings.theirs
    this.settings = next
    this.store.setMany({ talk: next })
    if (languagesChanged) { // a conversation keeps its languages: the next press starts a new one
      this.conversations = {}
      this.store.setMany({ talk_conversations: {} })
    }
    this.renderSettings()
  }

  get conversation () { return this.conversations[this.settings.mode] || null }

  keepConversation (mode, id) {
    this.conversations = { ...this.conversations, [mode]: id }
    this.store.setMany({ talk_conversations: this.conversations })
  }

  newConversation () {
    this.keepConversation(this.settings.mode, null)
    this.say('A new conversation starts with the next thing you say.')
  }

  renderSettings () {
    const { mode, mine, theirs } = this.settings
    for (const radio of document.querySelectorAll('input[name="talk-mode"]')) radio.checked = radio.value === mode
    $('lang-mine').value = mine
    $('lang-theirs').value = theirs
    const translating = mode === 'translate'
    $('theirs-field').hidden = !translating
    $('face').hidden = !translating
    this.renderButton()
  }

  // -- talking ---------------------------------------------------------------

  async press () {
    if (this.active) return this.release() // the second tap of tap-to-talk
    const { mode, mine, theirs } = this.settings
    if (mode === 'translate' && mine === theirs) return this.fail('Pick two different languages to translate between.')
    if (this.link.state !== 'online') return this.fail('The hub is not connected: talking needs it online.')
    this.player.unlock() // inside the gesture: the answer may be played
    const stream = `ptt-${Math.random().toString(36).slice(2, 8)}-${++this.counter}`
    const active = this.active = { stream, chunk: 0, queue: [], started: false, stopping: false, byPress: true }
    this.say('')
    this.renderButton()
    const mic = active.mic = new Mic()
    try {
      // The microphone first, while audio.start travels: the first words are kept.
      await mic.open(pcm => this.chunk(active, pcm))
    } catch (err) {
      mic.close()
      this.active = null
      this.renderButton()
      return this.fail(micMessage(err))
    }
    if (this.active !== active) { mic.close(); return } // released while the permission prompt was up
    const payload = mode === 'translate'
      ? { stream, languages: [mine, theirs], mode: 'translate', format: { encoding: 's16le', sample_rate: 16000, channels: 1 } }
      : { stream, languages: [mine], mode: 'chat', format: { encoding: 's16le', sample_rate: 16000, channels: 1 } }
    if (this.conversation) payload.conversation = this.conversation // voice chat: follow-ups stay in one thread
    let result
    try {
      result = await this.link.request('audio.start', payload)
    } catch (err) {
      mic.close()
      if (this.active === active) this.active = null
      this.renderButton()
      return this.fail(hubMessage(err.code, err.message))
    }
    active.started = true
    active.conversation = result.conversation
    this.keepConversation(mode, result.conversation)
    $('talk-notice').textContent = result.notice || ''
    for (const pcm of active.queue.splice(0)) this.sendChunk(active, pcm)
    if (active.stopping) this.stop(active)
    this.renderButton()
  }

  chunk (active, pcm) {
    if (active.started) this.sendChunk(active, pcm)
    else active.queue.push(pcm)
  }

  sendChunk (active, pcm) {
    if (this.link.sendAudio(active.stream, active.chunk, pcm)) active.chunk += 1
  }

  release () {
    const active = this.active
    if (!active) return
    this.active = null
    active.mic.close() // flushes the last partial chunk through chunk()
    this.renderButton()
    if (active.started) this.stop(active)
    else active.stopping = true // audio.start is still on its way: stop once it is in
  }

  async stop (active) {
    this.say('Listening to the end of it…')
    try {
      const summary = await this.link.request('audio.stop', { stream: active.stream })
      // every final caption of the stream is in: a partial still shown had no trustworthy words
      this.prunePartials(c => c.stream === active.stream && c.device === this.me())
      if (this.active) return // a new press is under way: its messages matter more
      this.say(summary.captions ? '' : 'Nothing was understood: hold the button while you speak.')
    } catch (err) {
      this.fail(hubMessage(err.code, err.message))
    }
  }

  say (text) {
    $('talk-msg').textContent = text
    $('talk-error').textContent = ''
  }

  fail (text) {
    $('talk-msg').textContent = ''
    $('talk-error').textContent = text
  }

  renderButton () {
    const ptt = $('ptt')
    const on = !!this.active
    ptt.setAttribute('aria-pressed', String(on))
    ptt.dataset.state = on ? 'listening' : 'idle'
    const what = this.settings.mode === 'translate' ? 'to translate' : 'to ask Qira'
    ptt.textContent = on ? 'Listening… release or tap to send' : `Hold to talk ${what}`
  }

  // -- from the hub ------------------------------------------------------------

  onEvent (ev) {
    switch (ev.type) {
      case 'caption': return this.caption(ev)
      case 'speech': return this.player.announce(ev)
      case 'audio.frame': return this.player.frame(ev.stream, ev.data)
      case 'audio.error': return this.fail(hubMessage(ev.code, ev.message))
      case 'link.state':
        if (ev.state !== 'online' && this.active) { this.release(); this.fail(hubMessage('closed')) }
        return
      default:
    }
  }

  caption (c) {
    const key = `${c.device}|${c.stream}|${c.utterance}|${c.speaker === 'qira' ? 'q' : 'p'}`
    const old = this.captions.get(key)
    if (old && old.final && !c.final) return // a late partial after its final
    this.captions.delete(key)
    this.captions.set(key, { ...c, seen: Date.now() })
    while (this.captions.size > KEPT) this.captions.delete(this.captions.keys().next().value)
    if (c.final) {
      // earlier utterances of the stream that never became final (no trustworthy words),
      // and partials nobody updated for a while (a stream on another device ended)
      const stale = Date.now() - 30000
      this.prunePartials(p => (p.stream === c.stream && p.device === c.device && p.utterance < c.utterance) || p.seen < stale, false)
      this.announce(c)
    }
    this.renderCaptions()
    this.renderFacing()
    if ($('view-talk').hidden && c.final) document.querySelector('nav button[data-view="talk"]').dataset.unread = 'true'
  }

  prunePartials (match, render = true) {
    for (const [key, c] of [...this.captions]) if (!c.final && match(c)) this.captions.delete(key)
    if (render) { this.renderCaptions(); this.renderFacing() }
  }

  // Screen readers hear each final caption once (the list itself changes too often to be live).
  announce (c) {
    const who = { self: 'You', other: 'They', qira: 'Qira' }[c.speaker] || c.speaker
    $('caption-live').textContent = c.translation
      ? `${who} said: ${c.text} — in ${languageName(c.target_language)}: ${c.translation}`
      : `${who} said: ${c.text}`
  }

  renderCaptions () {
    const me = this.me()
    $('captions').replaceChildren(...[...this.captions.entries()].map(([key, c]) => {
      const who = { self: 'You', other: 'Them', qira: 'Qira' }[c.speaker] || c.speaker
      const where = c.device && c.device !== me ? ` · on ${this.deviceName(c.device) || 'another device'}` : ''
      const li = el('li', { class: `caption ${c.speaker}${c.final ? '' : ' partial'}`, 'data-key': key },
        el('span', { class: 'who' }, `${who} · ${languageName(c.language)}${where}${c.final ? '' : ' · …'}`),
        el('p', { class: 'said', lang: c.language }, c.text))
      if (c.translation) li.append(el('p', { class: 'translated', lang: c.target_language }, c.translation))
      if (c.notice) li.append(el('p', { class: 'notice' }, c.notice))
      return li
    }))
    const last = $('captions').lastElementChild
    if (last && last.scrollIntoView && !$('view-talk').hidden) last.scrollIntoView({ block: 'end' })
  }

  // -- turned toward the other person ------------------------------------------

  face (open) {
    $('facing').hidden = !open
    if (open) { this.renderFacing(); $('face-close').focus() } else $('face').focus()
  }

  renderFacing () {
    if ($('facing').hidden) return
    $('facing').classList.toggle('flipped', this.flipped)
    const last = [...this.captions.values()].reverse().find(c => c.speaker !== 'qira')
    const big = $('facing-big')
    const small = $('facing-small')
    if (!last) {
      big.textContent = '…'
      big.removeAttribute('lang')
      small.textContent = ''
      return
    }
    // their language: what they said, or the translation of what the wearer said
    const theirs = last.speaker === 'other'
      ? { lang: last.language, text: last.text }
      : { lang: last.target_language, text: last.translation || last.notice || '' }
    const mine = last.speaker === 'other'
      ? { lang: last.target_language, text: last.translation || '' }
      : { lang: last.language, text: last.text }
    big.textContent = theirs.text
    if (theirs.lang) big.setAttribute('lang', theirs.lang)
    small.textContent = mine.text
    if (mine.lang) small.setAttribute('lang', mine.lang)
  }

  renderSound () {
    const p = this.player
    if (p.last && p.blocked) $('talk-sound').textContent = 'Speech is waiting: tap the page to hear it.'
    else $('talk-sound').textContent = p.last ? `Played: “${p.last.text}” (${languageName(p.last.language)})` : ''
  }
}
