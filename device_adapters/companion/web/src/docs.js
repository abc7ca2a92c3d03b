// The shared documents this app reads and writes, and their structure as
// docs/protocol.md ("The companion web app") describes it. Readers are lenient:
// a value of another shape is skipped, never a crash.

import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'

export const DOC_NAMES = ['context', 'notes', 'notifications', 'reminders', 'settings', 'threads']

export async function openDocs () {
  const docs = {}
  const persisted = []
  for (const name of DOC_NAMES) {
    const doc = docs[name] = new Y.Doc()
    persisted.push(new IndexeddbPersistence(`qira-doc-${name}`, doc))
  }
  await Promise.all(persisted.map(p => p.whenSynced))
  return { docs, persisted }
}

const isObject = v => v !== null && typeof v === 'object' && !Array.isArray(v)
const plain = v => (v instanceof Y.AbstractType ? v.toJSON() : v)

// threads: the hub's Y.Map "threads", thread id -> {title, updated_at, last_text, ...}
// (docs/protocol.md, "Shared documents"); the hub writes it, the companion only reads it,
// plus the threads it has seen this session that the hub has not written yet.
export function threadList (docs, seen = new Map()) {
  const out = new Map()
  for (const [id, t] of seen) out.set(id, { id, title: t.title || id, updatedAt: t.updatedAt || 0, last: t.last || '' })
  docs.threads.getMap('threads').forEach((value, id) => {
    const t = plain(value)
    if (isObject(t)) {
      out.set(id, { id, title: String(t.title || out.get(id)?.title || id), updatedAt: Number(t.updated_at) || 0,
        last: String(t.last_text ?? t.last ?? '') })
    }
  })
  return [...out.values()].sort((a, b) => b.updatedAt - a.updatedAt)
}

// notes: Y.Array "notes" of {id, text, at, device}
export function noteList (docs) {
  return docs.notes.getArray('notes').toArray().map(plain).filter(n => isObject(n) && typeof n.text === 'string')
    .map(n => ({ id: String(n.id || ''), text: n.text, at: Number(n.at) || 0, device: String(n.device || '') }))
    .sort((a, b) => b.at - a.at)
}

export function addNote (docs, text, device) {
  const id = `n_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
  docs.notes.getArray('notes').push([{ id, text, at: Date.now() / 1000, device }])
  return id
}

export function deleteNote (docs, id) {
  const notes = docs.notes.getArray('notes')
  const i = notes.toArray().findIndex(n => isObject(plain(n)) && plain(n).id === id)
  if (i >= 0) notes.delete(i, 1)
}

// reminders: Y.Array or Y.Map "reminders" of {text, due_at | at, ...}
export function reminderList (docs) {
  const doc = docs.reminders
  const items = []
  const raw = doc.share.get('reminders')
  // defined by a remote update but never read here: the type is still generic
  const arr = !raw || raw instanceof Y.Array || raw instanceof Y.Map ? raw
    : raw._map.size ? doc.getMap('reminders') : doc.getArray('reminders')
  if (arr instanceof Y.Array) items.push(...arr.toArray().map(plain))
  else if (arr instanceof Y.Map) arr.forEach(v => items.push(plain(v)))
  return items.filter(r => isObject(r) && (r.text || r.title) && (!r.status || r.status === 'pending'))
    .map(r => ({ text: String(r.text || r.title), due: Number(r.due_at ?? r.at) || null, trigger: r.trigger || r.when || null }))
    .sort((a, b) => (a.due || Infinity) - (b.due || Infinity))
}

// settings: Y.Map "hub", key "inference.policy" (written by the hub only)
export function hubPolicy (docs) {
  const p = docs.settings.getMap('hub').get('inference.policy')
  return typeof p === 'string' ? p : null
}
