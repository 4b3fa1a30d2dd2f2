// Writes `.br` (quality 11) and `.gz` (level 9) beside each compressible file of the built web
// app, so that the server sends them as they are (actix-files `try_compressed`) instead of
// compressing on every request. Usage: node precompress.mjs DIST_DIR
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node precompress.mjs DIST_DIR');
  process.exit(2);
}
const compressible = /\.(wasm|js|css|html|svg|json)$/;
let before = 0;
let after = 0;
for (const name of readdirSync(dir)) {
  const path = join(dir, name);
  if (!compressible.test(name) || !statSync(path).isFile()) continue;
  const raw = readFileSync(path);
  const br = brotliCompressSync(raw, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
      [constants.BROTLI_PARAM_MODE]: /\.wasm$/.test(name) ? constants.BROTLI_MODE_GENERIC : constants.BROTLI_MODE_TEXT,
    },
  });
  const gz = gzipSync(raw, { level: 9 });
  writeFileSync(`${path}.br`, br);
  writeFileSync(`${path}.gz`, gz);
  before += raw.length;
  after += br.length;
  console.log(`${name}: ${raw.length} B, br ${br.length} B, gz ${gz.length} B`);
}
console.log(`precompressed ${dir}: ${before} B -> ${after} B with brotli`);
