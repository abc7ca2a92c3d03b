// The device's durable state in IndexedDB: credentials and counters (meta), the
// operation outbox, and the local copy of chat messages. The shared documents
// persist separately, through y-indexeddb.

const DB_NAME = 'qira-companion'
const STORES = ['meta', 'outbox', 'messages']

const req = r => new Promise((resolve, reject) => {
  r.onsuccess = () => resolve(r.result)
  r.onerror = () => reject(r.error)
})

const done = tx => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve()
  tx.onerror = () => reject(tx.error)
  tx.onabort = () => reject(tx.error || new Error('transaction aborted'))
})

export async function openStore () {
  const open = indexedDB.open(DB_NAME, 1)
  open.onupgradeneeded = () => {
    const db = open.result
    db.createObjectStore('meta')
    db.createObjectStore('outbox', { keyPath: 'seq' })
    const messages = db.createObjectStore('messages', { keyPath: 'key' })
    messages.createIndex('thread', 'thread')
  }
  return new Store(await req(open))
}

export class Store {
  constructor (db) { this.db = db }

  async get (key, fallback = null) {
    const value = await req(this.db.transaction('meta').objectStore('meta').get(key))
    return value === undefined ? fallback : value
  }

  async setMany (entries) {
    const tx = this.db.transaction('meta', 'readwrite')
    for (const [k, v] of Object.entries(entries)) tx.objectStore('meta').put(v, k)
    await done(tx)
  }

  // Operations are on disk before they are sent: the hub can only acknowledge what is here.
  async enqueue (op, nextSeq) {
    const tx = this.db.transaction(['outbox', 'meta'], 'readwrite')
    tx.objectStore('outbox').put(op)
    tx.objectStore('meta').put(nextSeq, 'next_seq')
    await done(tx)
  }

  async outbox () {
    return req(this.db.transaction('outbox').objectStore('outbox').getAll())
  }

  async removeOps (seqs) {
    const tx = this.db.transaction('outbox', 'readwrite')
    for (const s of seqs) tx.objectStore('outbox').delete(s)
    await done(tx)
  }

  async putMessage (message) {
    const tx = this.db.transaction('messages', 'readwrite')
    tx.objectStore('messages').put(message)
    await done(tx)
  }

  async messages () {
    return req(this.db.transaction('messages').objectStore('messages').getAll())
  }

  async clear () {
    const tx = this.db.transaction(STORES, 'readwrite')
    for (const s of STORES) tx.objectStore(s).clear()
    await done(tx)
  }
}
