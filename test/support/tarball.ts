// Gzipped tar archives built in memory, for Helm charts and Flux OCI artifacts: the same files always
// give the same bytes (sorted entries, fixed owner, mode and time), so digests are reproducible.
import { gzipSync } from 'node:zlib';

/** The contents of an archive: path (slash-separated, relative) → file content. */
export type ArchiveFiles = Record<string, string | Uint8Array>;

const Block = 512;

/** A ustar archive of files, with an entry for each parent directory; paths are checked to stay inside. */
export function tar(files: ArchiveFiles): Buffer {
  const dirs = new Set<string>();
  for (const name of Object.keys(files)) {
    checkRelativePath(name);
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(`${parts.slice(0, i).join('/')}/`);
  }
  const names = [...dirs, ...Object.keys(files)].sort();
  const blocks: Buffer[] = [];
  for (const name of names) {
    if (name.endsWith('/')) {
      blocks.push(header(name, 0, '5', 0o755));
      continue;
    }
    const content = files[name]!;
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : Buffer.from(content);
    blocks.push(header(name, data.length, '0', 0o644), data, Buffer.alloc((Block - (data.length % Block)) % Block));
  }
  // The end of an archive is two zero blocks.
  blocks.push(Buffer.alloc(2 * Block));
  return Buffer.concat(blocks);
}

/** tar(files), gzipped (Node's gzip header carries no time, so the bytes are stable too). */
export function tarGz(files: ArchiveFiles): Buffer {
  return gzipSync(tar(files));
}

/** Throws unless name is a relative slash-separated path with no empty, '.' or '..' segment. */
export function checkRelativePath(name: string): void {
  const parts = name.split('/');
  if (name === '' || name.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`path ${JSON.stringify(name)} must be relative, without empty, '.' or '..' segments`);
  }
}

// The ustar header: name, mode, uid, gid, size, mtime, checksum, type, link name, magic "ustar\0" "00",
// user and group names, device numbers, name prefix; numbers in octal.
function header(path: string, size: number, type: '0' | '5', mode: number): Buffer {
  const h = Buffer.alloc(Block);
  const [prefix, name] = splitName(path);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, 0);
  h.fill(' ', 148, 156);
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  // The checksum is the sum of the header's bytes with its own field counted as spaces.
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

// ustar keeps a name of up to 100 bytes, or splits it at a slash into a prefix of up to 155 and the rest.
function splitName(path: string): [string, string] {
  if (Buffer.byteLength(path) <= 100) return ['', path];
  for (let i = path.lastIndexOf('/', path.length - 2); i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const rest = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return [prefix, rest];
  }
  throw new Error(`archive path too long for ustar: ${path}`);
}

function octal(h: Buffer, offset: number, length: number, value: number): void {
  h.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}
