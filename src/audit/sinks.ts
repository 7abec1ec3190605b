import { createHmac } from 'node:crypto';
import { appendFile, mkdir, open } from 'node:fs/promises';
import { hostname } from 'node:os';
import nodemailer from 'nodemailer';
import { dirname } from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import type { SecretsProvider } from '../core/index.js';
import { compactJson, type EcsDocument } from './ecs.js';

/**
 * Where audit events and alerts go. A sink either accepts a whole batch (resolves) or not
 * (throws); the delivery loop advances its cursor only after a resolve, so a sink that is down
 * loses nothing and receives the backlog when it returns (at-least-once; dedupe on event.id).
 */
export type Sink = { name: string; send(docs: EcsDocument[]): Promise<void> };

export type { SinkConfig } from '../core/index.js';
import type { SinkConfig } from '../core/index.js';

export function fileSink(config: Extract<SinkConfig, { type: 'file' }>): Sink {
  return {
    name: config.name,
    async send(docs) {
      await mkdir(dirname(config.path), { recursive: true });
      await appendFile(config.path, docs.map((doc) => `${compactJson(doc)}\n`).join(''), { mode: 0o600 });
      const handle = await open(config.path, 'r');
      try {
        await handle.sync(); // on disk before the cursor moves
      } finally {
        await handle.close();
      }
    },
  };
}

const sdEscape = (value: string) => value.replace(/["\\\]]/g, (c) => `\\${c}`);

/** RFC 5424 message: facility 13 (log audit), severity by kind. */
export function syslogMessage(doc: EcsDocument, appName: string, host = hostname()): string {
  const severity = (doc.event as { kind?: string }).kind === 'alert' ? 4 : 6;
  const pri = 13 * 8 + severity;
  const rampart = (doc.rampart ?? {}) as { chain?: string; seq?: string };
  const sd = `[rampart@32473 id="${sdEscape(doc.event.id)}" chain="${sdEscape(rampart.chain ?? '')}" seq="${sdEscape(rampart.seq ?? '')}"]`;
  return `<${pri}>1 ${doc['@timestamp']} ${host.replace(/\s/g, '') || '-'} ${appName} - audit ${sd} ${compactJson(doc)}`;
}

/** Octet-counting framing (RFC 6587 §3.4.1) so JSON with newlines cannot split a message. */
export const frameSyslog = (message: string) => `${Buffer.byteLength(message)} ${message}`;

export function syslogSink(config: Extract<SinkConfig, { type: 'syslog' }>, ca?: Buffer): Sink {
  return {
    name: config.name,
    send: (docs) =>
      new Promise<void>((resolve, reject) => {
        const payload = docs.map((doc) => frameSyslog(syslogMessage(doc, config.appName))).join('');
        const socket = config.tls
          ? tls.connect({ host: config.host, port: config.port, servername: net.isIP(config.host) ? undefined : config.host, minVersion: 'TLSv1.2', ...(ca ? { ca } : {}) })
          : net.connect({ host: config.host, port: config.port });
        socket.setTimeout(10_000, () => socket.destroy(new Error('syslog sink timed out')));
        socket.once('error', reject);
        socket.once(config.tls ? 'secureConnect' : 'connect', () => socket.end(payload));
        socket.once('close', (hadError) => (hadError ? undefined : resolve()));
      }),
  };
}

function httpBody(format: 'splunk-hec' | 'elastic-bulk' | 'ndjson', docs: EcsDocument[], index?: string): { body: string; contentType: string } {
  switch (format) {
    case 'splunk-hec':
      return { body: docs.map((doc) => compactJson({ time: Date.parse(doc['@timestamp']) / 1000, sourcetype: '_json', source: 'rampart', ...(index ? { index } : {}), event: doc })).join('\n'), contentType: 'application/json' };
    case 'elastic-bulk':
      return { body: `${docs.map((doc) => `${compactJson({ create: { _index: index ?? 'rampart-audit', _id: doc.event.id } })}\n${compactJson(doc)}`).join('\n')}\n`, contentType: 'application/x-ndjson' };
    default:
      return { body: `${docs.map((doc) => compactJson(doc)).join('\n')}\n`, contentType: 'application/x-ndjson' };
  }
}

async function post(url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  const response = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`sink answered ${response.status}`);
}

export function httpSink(config: Extract<SinkConfig, { type: 'http' }>, secrets: SecretsProvider): Sink {
  return {
    name: config.name,
    async send(docs) {
      const { body, contentType } = httpBody(config.format, docs, config.index);
      const token = config.tokenSecret ? await secrets.get(config.tokenSecret) : undefined;
      await post(config.url, body, { 'content-type': contentType, ...(token ? { authorization: `${config.authScheme} ${token.reveal()}` } : {}) }, config.timeoutMs);
    },
  };
}

export const webhookSignature = (secret: string, timestamp: number, body: string) => `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;

export function webhookSink(config: Extract<SinkConfig, { type: 'webhook' }>, secrets: SecretsProvider, now: () => number = Date.now): Sink {
  return {
    name: config.name,
    async send(docs) {
      const body = compactJson({ type: 'rampart.alerts', alerts: docs });
      const secret = config.signingSecret ? await secrets.get(config.signingSecret) : undefined;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (secret) headers['rampart-signature'] = webhookSignature(secret.reveal(), Math.floor(now() / 1000), body);
      await post(config.url, body, headers, config.timeoutMs);
    },
  };
}

/**
 * Alerts by email: one message per delivered batch (a digest, not a flood), plain text, through
 * SMTP with STARTTLS required by default.
 */
export function emailSink(config: Extract<SinkConfig, { type: 'email' }>, secrets: SecretsProvider, ca?: Buffer): Sink {
  return {
    name: config.name,
    async send(docs) {
      const url = new URL(config.smtpUrl);
      const password = config.passwordSecret ? await secrets.get(config.passwordSecret) : undefined;
      const transport = nodemailer.createTransport({
        host: url.hostname,
        port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 587)),
        secure: url.protocol === 'smtps:',
        requireTLS: config.requireTls && url.protocol !== 'smtps:',
        ignoreTLS: !config.requireTls && url.protocol !== 'smtps:',
        ...(url.username ? { auth: { user: decodeURIComponent(url.username), pass: password?.reveal() ?? '' } } : {}),
        tls: { minVersion: 'TLSv1.2', ...(ca ? { ca } : {}) },
        connectionTimeout: 10_000,
        socketTimeout: 20_000,
      });
      try {
        const severities = docs.map((doc) => String((doc.rampart as { severity?: string } | undefined)?.severity ?? 'info'));
        const worst = ['critical', 'high', 'medium', 'low'].find((s) => severities.includes(s)) ?? 'info';
        const lines = docs.map((doc) => `- [${String((doc.rampart as { severity?: string }).severity)}] ${doc['@timestamp']} ${String(doc.message ?? '')} (tenant ${String((doc.organization as { id?: string } | undefined)?.id ?? 'system')}, alert ${doc.event.id})`);
        await transport.sendMail({
          from: config.from,
          to: config.to,
          subject: `[Rampart] ${docs.length} ${worst} alert${docs.length === 1 ? '' : 's'}`,
          text: `Rampart raised ${docs.length} alert(s):\n\n${lines.join('\n')}\n\nDetails are in the audit log of each tenant (GET /api/v1/alerts).\n`,
        });
      } finally {
        transport.close();
      }
    },
  };
}

export async function createSink(config: SinkConfig, secrets: SecretsProvider, readFile: (path: string) => Promise<Buffer>): Promise<Sink> {
  switch (config.type) {
    case 'file':
      return fileSink(config);
    case 'syslog':
      return syslogSink(config, config.caFile ? await readFile(config.caFile) : undefined);
    case 'http':
      return httpSink(config, secrets);
    case 'webhook':
      return webhookSink(config, secrets);
    case 'email':
      return emailSink(config, secrets, config.caFile ? await readFile(config.caFile) : undefined);
  }
}
