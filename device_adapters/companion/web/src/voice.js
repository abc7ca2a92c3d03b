// The browser's microphone in and speech out, in the format docs/protocol.md's speech
// messages use: 16 kHz mono 16-bit little-endian PCM, in 100 ms chunks.

export const RATE = 16000
const CHUNK = RATE / 10 // samples in 100 ms: ten frames a second, well inside the hub's rate limit

// Runs on the audio thread: hands blocks of raw samples to the page. Batched, because
// a message per 128-sample render quantum would be ~350 a second.
const WORKLET = `
class QiraTap extends AudioWorkletProcessor {
  constructor () { super(); this.buf = new Float32Array(2048); this.n = 0 }
  process (inputs) {
    const ch = inputs[0] && inputs[0][0]
    if (ch) {
      for (let i = 0; i < ch.length; i++) {
        this.buf[this.n++] = ch[i]
        if (this.n === this.buf.length) { this.port.postMessage(this.buf.slice(0)); this.n = 0 }
      }
    }
    return true
  }
}
registerProcessor('qira-tap', QiraTap)
`

// Any input rate to 16 kHz, keeping state across blocks: the same converter as the hub's
// (qira/speech/_audio.py). Going down, a windowed-sinc low-pass at 0.9 x the new Nyquist
// frequency runs first, so a 48 kHz microphone's 8-24 kHz (hiss, fricatives) does not
// fold into the speech band; then linear interpolation, its position carried over.
const TAPS = 63

function lowpass (cutoff, taps) {
  const h = new Float32Array(taps)
  let sum = 0
  for (let i = 0; i < taps; i++) {
    const n = i - (taps - 1) / 2
    const sinc = n === 0 ? 1 : Math.sin(2 * Math.PI * cutoff * n) / (2 * Math.PI * cutoff * n)
    const blackman = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (taps - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (taps - 1))
    h[i] = sinc * blackman
    sum += h[i]
  }
  for (let i = 0; i < taps; i++) h[i] /= sum
  return h
}

export class Resampler {
  constructor (from, to = RATE) {
    this.step = from / to
    this.taps = to < from ? lowpass((0.45 * to) / from, TAPS) : null
    this.history = new Float32Array(this.taps ? TAPS - 1 : 0) // the filter's last inputs
    this.buf = new Float32Array(0) // filtered input not yet used up
    this.t = this.history.length / 2 // the next output's position in buf (the filter delays by half its length)
  }

  // input: Float32Array at the input rate -> array of samples at 16 kHz
  push (input) {
    let filtered = input
    if (this.taps) {
      const joined = new Float32Array(this.history.length + input.length)
      joined.set(this.history)
      joined.set(input, this.history.length)
      const n = joined.length - this.taps.length + 1
      filtered = new Float32Array(Math.max(0, n))
      for (let i = 0; i < n; i++) {
        let acc = 0
        for (let k = 0; k < this.taps.length; k++) acc += joined[i + k] * this.taps[this.taps.length - 1 - k]
        filtered[i] = acc
      }
      this.history = joined.slice(joined.length - this.history.length)
    }
    const buf = new Float32Array(this.buf.length + filtered.length)
    buf.set(this.buf)
    buf.set(filtered, this.buf.length)
    const out = []
    const last = buf.length - 1
    while (this.t <= last) {
      const i = Math.floor(this.t)
      const f = this.t - i
      out.push(i < last ? buf[i] * (1 - f) + buf[i + 1] * f : buf[i])
      this.t += this.step
    }
    const keep = Math.min(Math.floor(this.t), Math.max(last, 0))
    this.buf = buf.slice(keep)
    this.t -= keep
    return out
  }
}

export function toS16le (samples) {
  const bytes = new Uint8Array(samples.length * 2)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]))
    view.setInt16(i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true)
  }
  return bytes
}

// The microphone, open only while the person talks (the browser's recording indicator
// goes off in between).
export class Mic {
  static supported () {
    return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && (window.AudioContext || window.webkitAudioContext))
  }

  // onChunk(Uint8Array): 100 ms of 16 kHz s16le, in order; the last one may be shorter.
  async open (onChunk) {
    if (!Mic.supported()) {
      const err = new Error('no getUserMedia')
      err.name = window.isSecureContext ? 'NotSupportedError' : 'InsecureContext'
      throw err
    }
    // Raw sound: Whisper is trained on it, and the browser's noise suppression and gain
    // control chop quiet words. Push-to-talk never records while speech plays.
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false }
    })
    const Ctx = window.AudioContext || window.webkitAudioContext
    this.ctx = new Ctx()
    if (this.ctx.state === 'suspended') await this.ctx.resume().catch(() => {})
    this.resampler = new Resampler(this.ctx.sampleRate)
    this.pending = []
    this.onChunk = onChunk
    this.samples = 0 // 16 kHz samples handed out so far
    const source = this.ctx.createMediaStreamSource(this.stream)
    const feed = block => this.take(block)
    try {
      const url = URL.createObjectURL(new Blob([WORKLET], { type: 'application/javascript' }))
      await this.ctx.audioWorklet.addModule(url)
      URL.revokeObjectURL(url)
      this.node = new AudioWorkletNode(this.ctx, 'qira-tap')
      this.node.port.onmessage = ev => feed(ev.data)
      source.connect(this.node)
      this.path = 'audioworklet'
    } catch {
      // No AudioWorklet (an old browser, or a blob: URL refused): the deprecated
      // ScriptProcessorNode, which runs on the page's thread.
      this.node = this.ctx.createScriptProcessor(4096, 1, 1)
      this.node.onaudioprocess = ev => feed(new Float32Array(ev.inputBuffer.getChannelData(0)))
      const mute = this.ctx.createGain()
      mute.gain.value = 0
      source.connect(this.node)
      this.node.connect(mute)
      mute.connect(this.ctx.destination) // a script processor only runs when connected to the output
      this.path = 'scriptprocessor'
    }
  }

  take (block) {
    if (!this.onChunk) return
    for (const s of this.resampler.push(block)) this.pending.push(s)
    while (this.pending.length >= CHUNK) this.emit(this.pending.splice(0, CHUNK))
  }

  emit (samples) {
    this.samples += samples.length
    this.onChunk(toS16le(samples))
  }

  // Stops recording; what was heard after the last whole chunk goes out as a short one.
  close () {
    if (this.onChunk && this.pending.length) this.emit(this.pending.splice(0))
    this.onChunk = null
    if (this.stream) for (const t of this.stream.getTracks()) t.stop()
    if (this.node) this.node.disconnect()
    if (this.ctx) this.ctx.close().catch(() => {})
    this.stream = this.node = this.ctx = null
  }
}

// Speech the hub sends: a `speech` event announces a stream, its audio frames follow.
// Each is played once whole (the hub sends them at once), one after the other.
export class Player {
  static supported () { return !!(window.AudioContext || window.webkitAudioContext) }

  constructor ({ onChange = () => {} } = {}) {
    this.onChange = onChange
    this.streams = new Map() // stream id -> {ev, parts, got, timer}
    this.stats = { announced: 0, frames: 0, bytes: 0, played: 0, ended: 0 }
    this.last = null // the last speech event played
    this.until = 0
  }

  // Called inside a user gesture: browsers only let a page make sound after one.
  unlock () {
    if (!Player.supported()) return
    if (!this.ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext
      this.ctx = new Ctx()
      this.ctx.addEventListener('statechange', () => this.onChange())
    }
    if (this.ctx.state === 'suspended') this.ctx.resume().catch(() => {})
  }

  get blocked () { return !this.ctx || this.ctx.state === 'suspended' }

  announce (ev) {
    if (!ev || typeof ev.stream !== 'string') return
    this.stats.announced += 1
    const entry = { ev, parts: [], got: 0, timer: null }
    this.streams.set(ev.stream, entry)
    // a lost frame must not hold the speech back for ever: play what came
    entry.timer = setTimeout(() => this.finish(ev.stream), 5000)
  }

  frame (stream, data) {
    const entry = this.streams.get(stream)
    if (!entry) return false
    this.stats.frames += 1
    this.stats.bytes += data.length
    entry.parts.push(data.slice())
    entry.got += data.length
    if (entry.got >= (entry.ev.bytes || 0) || entry.parts.length >= (entry.ev.chunks || Infinity)) this.finish(stream)
    return true
  }

  finish (stream) {
    const entry = this.streams.get(stream)
    if (!entry) return
    this.streams.delete(stream)
    clearTimeout(entry.timer)
    if (!entry.got) return
    this.play(entry.ev, entry.parts, entry.got)
  }

  play (ev, parts, size) {
    this.unlock()
    const fmt = ev.format || {}
    const rate = fmt.sample_rate || RATE
    const pcm = new Uint8Array(size)
    let at = 0
    for (const p of parts) { pcm.set(p, at); at += p.length }
    const view = new DataView(pcm.buffer)
    const n = Math.floor(size / 2)
    const buffer = this.ctx.createBuffer(1, Math.max(1, n), rate)
    const ch = buffer.getChannelData(0)
    for (let i = 0; i < n; i++) ch[i] = view.getInt16(i * 2, true) / 0x8000
    const src = this.ctx.createBufferSource()
    src.buffer = buffer
    src.connect(this.ctx.destination)
    src.onended = () => { this.stats.ended += 1; this.onChange() }
    const start = Math.max(this.ctx.currentTime, this.until)
    src.start(start)
    this.until = start + buffer.duration
    this.stats.played += 1
    this.last = ev
    this.onChange()
  }
}
