import { expect } from '@playwright/test';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Where the server writes one .eml file per message (always complete: written, then renamed). */
const mailDir = () => path.join(process.env.PP_E2E_DATA_DIR!, 'mail');

/** Undoes quoted-printable: soft line breaks and =XX escapes (UTF-8 bytes). */
function decodeQuotedPrintable(text: string): string {
  const unfolded = text.replace(/=\r?\n/g, '');
  return Buffer.from(
    unfolded.replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');
}

const opened = new Set<string>();

/** The subject line of the newest mail to `to` whose subject matches `pattern`, if any. */
export function mailSubject(to: string, pattern: RegExp): string | undefined {
  let files: string[];
  try {
    files = readdirSync(mailDir()).filter((f) => f.endsWith('.eml'));
  } catch {
    return undefined;
  }
  return files
    .map((file) => path.join(mailDir(), file))
    .map((full) => ({ mtime: statSync(full).mtimeMs, text: readFileSync(full, 'utf8') }))
    .filter(({ text }) => text.includes(to))
    .sort((a, b) => b.mtime - a.mtime)
    // Long header lines are folded onto indented continuation lines.
    .map(({ text }) => text.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ').match(/^Subject: (.*)$/m)?.[1]?.trim())
    .find((subject) => !!subject && pattern.test(subject));
}

/**
 * Waits (bounded) for a not-yet-read mail to `to` that carries a `/{route}?token=` link, and
 * returns the link. Newest first, so a resent mail wins over an older one.
 */
export async function mailedLink(route: 'verify-email' | 'reset-password' | 'invite', to: string): Promise<string> {
  const pattern = new RegExp(`https?://[^\\s"<>]+/${route}\\?token=[^\\s"<>]+`);
  let found: { file: string; link: string } | undefined;
  await expect
    .poll(
      () => {
        let files: string[];
        try {
          files = readdirSync(mailDir()).filter((f) => f.endsWith('.eml') && !opened.has(f));
        } catch {
          return undefined; // the folder appears with the first mail
        }
        const messages = files
          .map((file) => {
            const full = path.join(mailDir(), file);
            const text = decodeQuotedPrintable(readFileSync(full, 'utf8'));
            return { file, mtime: statSync(full).mtimeMs, text };
          })
          .filter(({ text }) => text.includes(to))
          .map(({ file, mtime, text }) => ({ file, mtime, link: text.match(pattern)?.[0] }))
          .filter((m): m is { file: string; mtime: number; link: string } => !!m.link)
          .sort((a, b) => b.mtime - a.mtime);
        found = messages[0];
        return found?.link;
      },
      { message: `a mail to ${to} with a ${route} link`, timeout: 30_000 },
    )
    .toBeTruthy();
  opened.add(found!.file);
  return found!.link;
}
