// Builds the companion into one static folder the hub serves at "/":
//   node build.mjs [--out DIR]     (default: qira/api/static/companion)
// Deterministic: the same sources and lockfile give the same bytes (a test checks
// that the shipped bundle equals a fresh build).
import { build } from 'esbuild'
import { createHash } from 'node:crypto'
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const outIndex = args.indexOf('--out')
const out = resolve(outIndex >= 0 ? args[outIndex + 1] : join(here, '../../../qira/api/static/companion'))

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })

await build({
  entryPoints: [join(here, 'src/main.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  platform: 'browser',
  charset: 'utf8',
  legalComments: 'none',
  sourcemap: false,
  outfile: join(out, 'app.js'),
  logLevel: 'warning'
})
await build({
  entryPoints: [join(here, 'app.css')],
  minify: true,
  charset: 'utf8',
  outfile: join(out, 'app.css'),
  logLevel: 'warning'
})
for (const f of ['index.html', 'manifest.webmanifest']) copyFileSync(join(here, f), join(out, f))
for (const f of readdirSync(join(here, 'icons')).sort()) copyFileSync(join(here, 'icons', f), join(out, f))

const shell = readdirSync(out).sort()
const hash = createHash('sha256')
for (const f of shell) hash.update(f).update(readFileSync(join(out, f)))
const sw = readFileSync(join(here, 'sw.js'), 'utf8')
  .replace('__VERSION__', hash.digest('hex').slice(0, 16))
  .replace('__SHELL__', JSON.stringify(['./', ...shell]))
writeFileSync(join(out, 'sw.js'), sw)
console.log(`companion built into ${out}: ${[...shell, 'sw.js'].join(', ')}`)
