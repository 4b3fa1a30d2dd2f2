// Builds the web app into frontend/dist (what `make web` runs; trunk's job before the app was
// split). Usage: node frontend/tools/build.mjs
//
// 1. cargo builds the app for wasm32 with `--cfg wasm_split` (the screens behind sign-in become a
//    lazily loaded split point, see `screen_view` in src/lib.rs), `--cfg erase_components` and
//    the relocations wasm-split needs.
// 2. wasm-split-cli cuts the module in two: the main module (sign-in and the pages before it) and
//    the screens' module, with `__wasm_split.js`, which fetches it on first use.
// 3. wasm-bindgen writes the JavaScript glue of the main module; wasm-opt -Oz shrinks each module.
// 4. Every file gets the build's content hash in its name (the server caches such names for a
//    year), index.html loads them with subresource integrity, and each compressible file is
//    precompressed (precompress.mjs).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const frontend = dirname(dirname(fileURLToPath(import.meta.url)));
const targetDir = process.env.CARGO_TARGET_DIR || join(frontend, '..', 'target');
const dist = join(frontend, 'dist');
const work = join(targetDir, 'web-build');
const NAME = 'portal-frontend';

function run(command, args, options = {}) {
  console.log(`$ ${command} ${args.join(' ')}`);
  execFileSync(command, args, { stdio: 'inherit', ...options });
}

// 1. The module, with the split point and its relocations.
run('cargo', ['build', '--profile', 'wasm-release', '--target', 'wasm32-unknown-unknown', '-p', NAME, '--bin', NAME], {
  cwd: frontend,
  // RUSTFLAGS replaces the `rustflags` of .cargo/config.toml, so it names every flag.
  env: { ...process.env, RUSTFLAGS: '--cfg erase_components --cfg wasm_split -Clink-args=--emit-relocs' },
});
const built = join(targetDir, 'wasm32-unknown-unknown', 'wasm-release', `${NAME}.wasm`);

// 2. and 3. Split, glue, shrink.
rmSync(work, { recursive: true, force: true });
const split = join(work, 'split');
const out = join(work, 'out');
mkdirSync(split, { recursive: true });
mkdirSync(out, { recursive: true });
run('wasm-split-cli', [built, split, '--out-name', NAME]);
run('wasm-bindgen', [
  '--target', 'web', '--keep-lld-exports', '--no-demangle', '--no-typescript',
  '--out-dir', out, '--out-name', NAME, join(split, `${NAME}.wasm`),
]);
for (const file of readdirSync(split)) {
  if (file.startsWith('split_') || file === '__wasm_split.js') copyFileSync(join(split, file), join(out, file));
}
const wasms = readdirSync(out).filter((f) => f.endsWith('.wasm'));
if (wasms.length < 2) throw new Error(`wasm-split found no split point: ${wasms}`);
for (const file of wasms) {
  run('wasm-opt', ['-Oz', '--strip-debug', '--strip-producers', join(out, file), '-o', join(out, file)]);
}
copyFileSync(join(frontend, 'style.css'), join(out, 'style.css'));

// 4. Names with the build's hash, references rewritten, index.html.
const files = readdirSync(out).sort();
const hashOf = (...buffers) => {
  const h = createHash('sha256');
  for (const b of buffers) h.update(b);
  return h.digest('hex').slice(0, 16);
};
// One hash for the code (its files name each other, so they change together); its own for the CSS.
const code = files.filter((f) => f !== 'style.css');
// (This script is hashed too: it decides how the files name each other.)
const codeHash = hashOf(readFileSync(fileURLToPath(import.meta.url)), ...code.flatMap((f) => [f, readFileSync(join(out, f))]));
const cssHash = hashOf(readFileSync(join(out, 'style.css')));
const hashed = (file) => {
  const hash = file === 'style.css' ? cssHash : codeHash;
  const bg = file.match(/^(.*)(_bg\.wasm)$/);
  if (bg) return `${bg[1]}-${hash}${bg[2]}`;
  const dot = file.lastIndexOf('.');
  return `${file.slice(0, dot)}-${hash}${file.slice(dot)}`;
};
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
const integrity = {};
for (const file of files) {
  let content = readFileSync(join(out, file));
  if (file.endsWith('.js')) {
    let text = content.toString('utf8');
    // Only where a file is loaded: `"./__wasm_split.js"` is also the name the main module's
    // imports are filed under, which stays.
    for (const other of files) {
      for (const load of ['from ', 'new URL(']) {
        text = text.replaceAll(`${load}"./${other}"`, `${load}"./${hashed(other)}"`);
      }
    }
    content = Buffer.from(text);
  }
  writeFileSync(join(dist, hashed(file)), content);
  integrity[file] = `sha384-${createHash('sha384').update(content).digest('base64')}`;
}
const js = `/${hashed(`${NAME}.js`)}`;
const wasm = `/${hashed(`${NAME}_bg.wasm`)}`;
const css = `/${hashed('style.css')}`;
const assets = [
  `<link rel="stylesheet" href="${css}" integrity="${integrity['style.css']}"/>`,
  `<script type="module">import init from '${js}'; await init({ module_or_path: '${wasm}' });</script>`,
  `<link rel="modulepreload" href="${js}" crossorigin="anonymous" integrity="${integrity[`${NAME}.js`]}">`,
  `<link rel="preload" href="${wasm}" crossorigin="anonymous" integrity="${integrity[`${NAME}_bg.wasm`]}" as="fetch" type="application/wasm">`,
].join('\n    ');
const template = readFileSync(join(frontend, 'index.html'), 'utf8');
if (!template.includes('<!-- assets -->')) throw new Error('index.html has no <!-- assets --> marker');
writeFileSync(join(dist, 'index.html'), template.replace('<!-- assets -->', assets));
console.log(`built ${dist}: ${readdirSync(dist).join(', ')}`);
