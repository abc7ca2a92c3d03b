// The device side of docs/protocol.md over one WebSocket: hello (pairing or token,
// resume), a durable outbox replayed until every operation has its reply, batched
// acks, ping heartbeat, reconnect with backoff, and the Yjs documents' state exchange.

import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'
import * as syncProtocol from 'y-protocols/sync'

const FATAL = new Set([4001, 4003, 4004]) // retrying with the same credentials is pointless
const RETRY = new Set(['rate_limited', 'seq_out_of_order']) // the hub did not take the operation
const REMOTE = Symbol('hub') // origin of updates that came from the hub: never echoed back

export class Link {
  constructor ({ url, healthUrl, store, docs, capabilities, client, onEvent }) {
    this.url = url
    this.healthUrl = healthUrl
    this.store = store
    this.docs = docs // name -> Y.Doc
    this.capabilities = capabilities
    this.client = client
    this.onEvent = onEvent
    this.state = 'offline' // offline | connecting | online | paused
    this.ws = null
    this.nextId = 2
    this.unacked = new Map() // seq -> {seq, type, payload}
    this.waiters = new Map() // seq -> {resolve}
    this.idToSeq = new Map()
    this.controls = new Map() // id -> resolve, for replies without seq
    this.done = [] // seqs whose replies arrived, to acknowledge
    this.attempt = 0
    this.timer = null
    this.synced = new Set()
    this.subscribed = new Set()
    for (const [name, doc] of Object.entries(docs)) {
      doc.on('update', (update, origin) => {
        if (origin !== REMOTE) this.sendDoc(name, e => syncProtocol.writeUpdate(e, update))
      })
    }
  }

  async load () {
    this.token = await this.store.get('token')
    this.hubSeq = await this.store.get('hub_seq', 0)
    this.ackedHubSeq = this.hubSeq
    this.nextSeq = await this.store.get('next_seq', 1)
    for (const op of await this.store.outbox()) {
      this.unacked.set(op.seq, op)
      this.nextSeq = Math.max(this.nextSeq, op.seq + 1)
    }
  }

  pending () { return [...this.unacked.values()] }

  // -- connection ------------------------------------------------------------

  start (pairCode = null) {
    this.pairCode = pairCode
    this.stopped = false
    this.connect()
  }

  stop (state = 'offline') {
    this.stopped = true
    clearTimeout(this.timer)
    if (this.ws) this.ws.close(1000)
    this.setState(state)
  }

  setState (state, detail = {}) {
    this.state = state
    this.onEvent({ type: 'link.state', state, ...detail })
  }

  async connect () {
    clearTimeout(this.timer)
    if (this.ws || this.stopped || this.probing) return
    if (!navigator.onLine) { this.setState('offline'); return }
    this.setState(this.attempt ? 'reconnecting' : 'connecting')
    // Ask first whether the hub answers at all (the service worker turns a network
    // failure into an "unreachable" answer): a WebSocket to an unreachable hub would
    // fill the console with errors on every retry.
    this.probing = true
    const reachable = await this.reachable()
    this.probing = false
    if (this.ws || this.stopped) return
    if (!reachable) { this.retry('offline'); return }
    const ws = this.ws = new WebSocket(this.url)
    ws.binaryType = 'arraybuffer'
    ws.onopen = () => this.hello()
    ws.onmessage = ev => typeof ev.data === 'string' ? this.onText(ev.data) : this.onBinary(new Uint8Array(ev.data))
    ws.onclose = ev => this.closed(ws, ev.code, ev.reason)
    ws.onerror = () => {} // onclose follows and says what happened
  }

  async reachable () {
    try {
      const r = await fetch(this.healthUrl, { cache: 'no-store' })
      return (await r.json()).status === 'ok'
    } catch {
      return false
    }
  }

  retry (state) {
    const delay = Math.min(5000, 200 * 2 ** this.attempt) * (0.5 + Math.random() / 2)
    this.attempt += 1
    this.setState(state, { delay })
    this.timer = setTimeout(() => this.connect(), delay)
  }

  // The browser went offline: drop the socket now rather than wait for a timeout.
  offline () {
    if (this.ws) this.ws.close(1000)
    else this.setState('offline')
  }

  closed (ws, code, reason) {
    if (ws !== this.ws) return
    this.ws = null
    this.ready = false
    clearInterval(this.ticker)
    // replies to this connection's ids will never come: the outbox is replayed with new ids
    this.idToSeq.clear()
    for (const resolve of this.controls.values()) resolve({ type: 'error', code: 'closed' })
    this.controls.clear()
    if (FATAL.has(code)) {
      this.stopped = true
      this.setState('paused', { code, reason })
      return
    }
    if (this.stopped) return
    if (!navigator.onLine) { this.setState('offline'); return }
    this.retry('reconnecting')
  }

  send (message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ v: 1, ...message }))
  }

  hello () {
    const msg = { id: 1, type: 'hello', capabilities: this.capabilities(), client: this.client }
    if (this.token) msg.token = this.token
    else msg.pair = { code: this.pairCode }
    if (this.token) msg.resume = { hub_seq: this.hubSeq }
    this.send(msg)
  }

  async welcome (result) {
    const ws = this.ws
    const updates = { device_id: result.device_id, name: result.name, kind: result.kind }
    if (result.token) { updates.token = this.token = result.token; this.pairCode = null }
    await this.store.setMany(updates)
    if (ws !== this.ws) return // the connection died meanwhile: the next hello starts over
    this.heartbeat = (result.heartbeat_s || 20) * 1000
    const acked = result.acked_seq || 0
    const gone = [...this.unacked.keys()].filter(s => s <= acked) // acked on a connection that died before the reply
    for (const s of gone) this.unacked.delete(s)
    this.done.push(...gone)
    this.ready = true
    this.attempt = 0
    this.replay(0)
    this.synced.clear()
    const offered = new Set(result.docs || Object.keys(this.docs)) // a hub without a document gets no frames for it
    this.subscribed = new Set(Object.keys(this.docs).filter(n => offered.has(n)))
    for (const name of this.subscribed) this.sendDoc(name, e => syncProtocol.writeSyncStep1(e, this.docs[name]))
    let last = Date.now()
    this.ticker = setInterval(() => {
      this.flushAcks()
      if (Date.now() - last >= this.heartbeat) { this.control('ping', {}); last = Date.now() }
    }, 50) // acks go out in batches, every 50 ms
    this.setState('online', result)
    this.onEvent({ type: 'link.ready', ...result })
  }

  // -- operations ------------------------------------------------------------

  async submit (type, payload = {}) {
    const seq = this.nextSeq++
    const op = { seq, type, payload, at: Date.now() }
    await this.store.enqueue(op, this.nextSeq)
    this.unacked.set(seq, op)
    const reply = new Promise(resolve => this.waiters.set(seq, resolve))
    this.onEvent({ type: 'outbox', op })
    if (this.ready) this.sendOp(op)
    return reply
  }

  // Like submit, resolving with the result; an error reply rejects (with .code).
  async request (type, payload = {}) {
    const reply = await this.submit(type, payload)
    if (reply.ok) return reply.result
    const err = new Error(reply.message || reply.code)
    err.code = reply.code
    throw err
  }

  sendOp (op) {
    const id = this.nextId++
    this.idToSeq.set(id, op.seq)
    this.send({ id, seq: op.seq, type: op.type, ...op.payload })
  }

  replay (fromSeq) {
    for (const seq of [...this.unacked.keys()].sort((a, b) => a - b)) {
      if (seq >= fromSeq) this.sendOp(this.unacked.get(seq))
    }
  }

  control (type, fields) {
    const id = this.nextId++
    this.send({ id, type, ...fields })
    return new Promise(resolve => this.controls.set(id, resolve))
  }

  presence (active, capabilities) {
    if (this.ready) this.control('presence', { active, capabilities })
  }

  async flushAcks () {
    if (!this.ready) return
    if (this.done.length) {
      const seqs = this.done
      this.done = []
      await this.store.removeOps(seqs) // deleted before the hub may forget the replies
      const low = this.unacked.size ? Math.min(...this.unacked.keys()) : this.nextSeq
      this.send({ type: 'ack', op_seq: low - 1, hub_seq: this.hubSeq })
      this.ackedHubSeq = this.hubSeq
    } else if (this.hubSeq !== this.ackedHubSeq) {
      this.send({ type: 'ack', hub_seq: this.hubSeq })
      this.ackedHubSeq = this.hubSeq
    }
  }

  // -- incoming --------------------------------------------------------------

  onText (text) {
    let msg
    try { msg = JSON.parse(text) } catch { return }
    if (msg.type === 'result' || msg.type === 'error') return this.onReply(msg)
    if (msg.hub_seq != null) {
      if (msg.hub_seq <= this.hubSeq) return // a replay of what this device already processed
      this.hubSeq = msg.hub_seq
      this.store.setMany({ hub_seq: msg.hub_seq })
    }
    this.onEvent(msg)
  }

  onReply (msg) {
    if (msg.id === 1 && !this.ready) {
      if (msg.type === 'result') this.welcome(msg.result)
      else this.onEvent({ type: 'link.refused', code: msg.code, message: msg.message })
      return
    }
    const seq = msg.seq ?? this.idToSeq.get(msg.id)
    this.idToSeq.delete(msg.id)
    if (seq == null) {
      const resolve = this.controls.get(msg.id)
      this.controls.delete(msg.id)
      if (resolve) resolve(msg)
      else if (msg.type === 'error') this.onEvent({ type: 'link.error', code: msg.code, message: msg.message })
      return
    }
    if (!this.unacked.has(seq)) return
    if (msg.type === 'error' && RETRY.has(msg.code)) {
      const from = msg.code === 'seq_out_of_order' ? (msg.expected ?? seq) : seq
      setTimeout(() => this.ready && this.replay(from), 1000 * (msg.retry_after || 0.2))
      return
    }
    const op = this.unacked.get(seq)
    this.unacked.delete(seq)
    this.done.push(seq)
    const reply = msg.type === 'result'
      ? { seq, ok: true, result: msg.result || {} }
      : { seq, ok: msg.code === 'seq_already_acked', code: msg.code, message: msg.message, result: {} }
    this.onEvent({ type: 'reply', op, reply })
    const resolve = this.waiters.get(seq)
    this.waiters.delete(seq)
    if (resolve) resolve(reply)
  }

  // -- shared documents ------------------------------------------------------

  sendDoc (name, write) {
    if (!this.ready || !this.subscribed.has(name) || !this.ws || this.ws.readyState !== WebSocket.OPEN) return
    const e = encoding.createEncoder()
    encoding.writeUint8(e, 0)
    encoding.writeVarString(e, name)
    encoding.writeVarUint(e, 0)
    write(e)
    this.ws.send(encoding.toUint8Array(e))
  }

  // docs/protocol.md "Binary audio frames": 0x01, varString stream, varUint chunk, PCM.
  // Audio is ephemeral: nothing goes through the outbox, and a closed socket drops it.
  sendAudio (stream, chunk, pcm) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false
    const e = encoding.createEncoder()
    encoding.writeUint8(e, 1)
    encoding.writeVarString(e, stream)
    encoding.writeVarUint(e, chunk)
    encoding.writeUint8Array(e, pcm)
    this.ws.send(encoding.toUint8Array(e))
    return true
  }

  onBinary (bytes) {
    const d = decoding.createDecoder(bytes)
    const kind = decoding.readUint8(d)
    if (kind === 1) {
      const stream = decoding.readVarString(d)
      const chunk = decoding.readVarUint(d)
      this.onEvent({ type: 'audio.frame', stream, chunk, data: bytes.subarray(d.pos) })
      return
    }
    if (kind !== 0) return
    const name = decoding.readVarString(d)
    const doc = this.docs[name]
    if (!doc || decoding.readVarUint(d) !== 0) return // awareness is not used here
    const reply = encoding.createEncoder()
    const step = syncProtocol.readSyncMessage(d, reply, doc, REMOTE)
    if (encoding.length(reply) > 0) {
      const answer = encoding.toUint8Array(reply)
      this.sendDoc(name, e => encoding.writeUint8Array(e, answer))
    }
    if (step === syncProtocol.messageYjsSyncStep2 && !this.synced.has(name)) {
      this.synced.add(name)
      if (this.synced.size === this.subscribed.size) this.onEvent({ type: 'link.synced' })
    }
  }
}
