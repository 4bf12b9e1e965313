/**
 * The local server's mailbox: without `SENDGRID_API_KEY`, `send-notification` keeps every email
 * in the `captured_emails` table instead of sending it, and `deno task dev` shows them here.
 *
 * - `GET /_dev/mail`: the newest 100, as a page (`?format=json`: as JSON, for scripts and tests)
 * - `GET /_dev/mail/<id>`: one email: its headers, its text part, and its HTML part in a
 *   sandboxed frame; their links open the viewer in a new tab, as from a mail client
 *
 * Development only: the emails carry working link tokens. Nothing here is deployed.
 */
import { getDatabase } from "../shared/kernel/db.ts";

interface CapturedEmail {
  id: string;
  notification_id: string | null;
  kind: string;
  from_address: string;
  to_address: string;
  subject: string;
  text_body: string;
  html_body: string;
  headers: Record<string, string>;
  custom_args: Record<string, string>;
  created_at: Date;
}

/** The path prefix the mailbox answers under. */
export const MAIL_VIEWER_PATH = "/_dev/mail";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Serves the mailbox from the database the functions use (and through their pool). */
export function createMailViewer(databaseUrl: string): (request: Request) => Promise<Response> {
  function database() {
    const poolSize = Number(Deno.env.get("DATABASE_POOL_SIZE") ?? "5");
    return getDatabase(databaseUrl, { max: Number.isInteger(poolSize) ? poolSize : 5 });
  }

  return async function mailViewer(request: Request): Promise<Response> {
    if (request.method !== "GET") {
      return new Response("Only GET is served here.\n", { status: 405, headers: { allow: "GET" } });
    }
    const url = new URL(request.url);
    const id = url.pathname.slice(MAIL_VIEWER_PATH.length).replace(/^\/+|\/+$/g, "");
    const db = database();
    if (id) {
      if (!UUID.test(id)) return new Response("No such email.\n", { status: 404 });
      const [email] = await db.asService((tx) =>
        tx<CapturedEmail[]>`select * from public.captured_emails where id = ${id}`
      );
      if (!email) return new Response("No such email.\n", { status: 404 });
      return page(email.subject, emailPage(email));
    }
    const emails = await db.asService((tx) =>
      tx<CapturedEmail[]>`
        select * from public.captured_emails
         where created_at > ${new Date(0)} -- binds a parameter, as pipelined statements must
         order by created_at desc, id
         limit 100`
    );
    if (url.searchParams.get("format") === "json") {
      return Response.json({ emails }, { headers: { "cache-control": "no-store" } });
    }
    return page("Captured emails", listPage(emails));
  };
}

function listPage(emails: CapturedEmail[]): string {
  if (emails.length === 0) {
    return "<h1>Captured emails</h1><p>None yet. Add a guardian, or POST send-notification.</p>";
  }
  const rows = emails.map((email) =>
    `<tr><td>${escape(email.created_at.toISOString())}</td><td>${escape(email.kind)}</td>` +
    `<td>${escape(email.to_address)}</td>` +
    `<td><a href="${MAIL_VIEWER_PATH}/${email.id}">${escape(email.subject)}</a></td></tr>`
  );
  return [
    "<h1>Captured emails</h1>",
    "<p>send-notification keeps emails here because SENDGRID_API_KEY is not set.</p>",
    "<table><tr><th>when</th><th>kind</th><th>to</th><th>subject</th></tr>",
    ...rows,
    "</table>",
  ].join("\n");
}

function emailPage(email: CapturedEmail): string {
  const headers = [
    ["From", email.from_address],
    ["To", email.to_address],
    ["Subject", email.subject],
    ...Object.entries(email.headers),
    ...Object.entries(email.custom_args).map(([name, value]) => [`custom_args.${name}`, value]),
  ];
  return [
    `<p><a href="${MAIL_VIEWER_PATH}">All captured emails</a></p>`,
    `<h1>${escape(email.subject)}</h1>`,
    "<table>",
    ...headers.map(([name, value]) => `<tr><th>${escape(name)}</th><td>${escape(value)}</td></tr>`),
    "</table>",
    "<h2>HTML part</h2>",
    `<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="${
      escape(linksInNewTabs(email.html_body))
    }"></iframe>`,
    "<h2>Text part</h2>",
    `<pre>${linkify(escape(email.text_body))}</pre>`,
  ].join("\n");
}

/**
 * The email's HTML with `<base target="_blank">`: a link clicked inside the sandboxed frame
 * would otherwise open in the frame itself, where the viewer's scripts may not run. A new tab
 * escapes the sandbox (`allow-popups-to-escape-sandbox`), as a link in a mail client would.
 */
function linksInNewTabs(html: string): string {
  const base = '<base target="_blank">';
  const head = /<head(\s[^>]*)?>/i.exec(html);
  if (!head) return base + html;
  const end = head.index + head[0].length;
  return html.slice(0, end) + base + html.slice(end);
}

/** Makes the URLs of an escaped text part clickable, each opening a new tab. */
function linkify(escapedText: string): string {
  return escapedText.replace(
    /https?:\/\/[^\s<]+/g,
    (url) => `<a href="${url}" target="_blank" rel="noreferrer">${url}</a>`,
  );
}

function page(title: string, body: string): Response {
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${
      escape(title)
    }</title><style>body{font:15px/1.5 system-ui,sans-serif;margin:24px;max-width:960px}` +
    `th{text-align:left;padding-right:12px;vertical-align:top}td{padding-right:12px}` +
    `iframe{width:100%;height:520px;border:1px solid #ccc}pre{white-space:pre-wrap}</style>` +
    `</head><body>${body}</body></html>`;
  return new Response(html, {
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" },
  });
}

function escape(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}
