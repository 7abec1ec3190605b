import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAuditLog,
  deliverPending,
  emailSink,
  fileSink,
  generateSigningKeyPem,
  httpSink,
  registerAuditJobs,
  scheduleAuditJobs,
  signerFromPem,
  sinkLag,
  syslogSink,
  webhookSink,
  type AuditLog,
} from '../src/audit/index.js';
import { createLogger, envSecretsProvider, manualClock } from '../src/core/index.js';
import { createJobQueue, createTenant, withTenant, type Database, type Tenant } from '../src/db/index.js';
import { testDatabase } from './support/rampart.js';

const log = createLogger({ level: 'silent' });
const actor = { type: 'user' as const, id: 'u1' };

type Received = { headers: IncomingMessage['headers']; body: string };

/** A SIEM collector on loopback that can be switched off (answers 503) and back on. */
async function collector(): Promise<{ url: string; received: Received[]; setDown(down: boolean): void; close(): Promise<void> }> {
  const received: Received[] = [];
  let down = false;
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (down) {
        response.writeHead(503).end();
        return;
      }
      received.push({ headers: request.headers, body });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}/ingest`, received, setDown: (value) => (down = value), close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('SIEM and alert sinks', () => {
  let db: Database;
  let audit: AuditLog;
  let a: Tenant;
  let b: Tenant;
  let dir: string;

  const record = (tenant: Tenant, action: string) => withTenant(db, { tenantId: tenant.id, actor }, (trx) => audit.record(trx, { tenantId: tenant.id, actor, action }));
  const allEventIds = async () => (await db.owner.selectFrom('audit_events').select('id').execute()).map((r) => r.id).sort();

  beforeAll(async () => {
    db = await testDatabase();
    audit = createAuditLog();
    a = await createTenant(db, { slug: 'sink-a', name: 'A' });
    b = await createTenant(db, { slug: 'sink-b', name: 'B' });
    dir = await mkdtemp(join(tmpdir(), 'rampart-sinks-'));
  });
  afterAll(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('MO-1 JSON-lines file sink: ECS documents, each event once, in chain order', async () => {
    for (let i = 0; i < 3; i += 1) await record(a, 'customer.created');
    await record(b, 'customer.created');
    const sink = fileSink({ type: 'file', name: 'jsonl', path: join(dir, 'audit.jsonl') });
    expect((await deliverPending({ db, sink, source: 'audit' })).delivered).toBe(4);
    expect((await deliverPending({ db, sink, source: 'audit' })).delivered).toBe(0);
    const docs = (await readFile(join(dir, 'audit.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
    expect(docs).toHaveLength(4);
    expect(docs[0]).toMatchObject({ ecs: { version: '8.11.0' }, event: { kind: 'event', action: 'customer.created', dataset: 'rampart.audit' }, user: { id: 'u1' } });
    const chainA = docs.filter((d) => d.organization.id === a.id).map((d) => d.rampart.seq);
    expect(chainA).toEqual(['1', '2', '3']);
  });

  it('MO-1 HTTP sink outage: events pile up while it is down and all arrive when it is back', async () => {
    const siem = await collector();
    const clock = manualClock(new Date('2026-06-01T00:00:00Z'));
    const jobs = createJobQueue({ db, log, clock, backoff: { baseMs: 1000, maxMs: 10_000 }, random: () => 0.5 });
    const sink = httpSink({ type: 'http', name: 'siem', url: siem.url, format: 'ndjson', authScheme: 'Bearer', timeoutMs: 2000 }, envSecretsProvider({ env: {} }));
    registerAuditJobs(jobs, { db, log, signer: signerFromPem(generateSigningKeyPem()), auditSinks: [sink], alertSinks: [] });
    await scheduleAuditJobs(jobs, { checkpointIntervalSeconds: 3600, deliverIntervalSeconds: 5, sinkNames: [{ name: 'siem', source: 'audit' }] });
    try {
      siem.setDown(true);
      for (let i = 0; i < 30; i += 1) await record(i % 2 ? a : b, 'customer.updated');
      // Several delivery rounds fail while the SIEM is down; nothing is lost, nothing advances.
      for (let round = 0; round < 4; round += 1) {
        await jobs.runDue(10);
        clock.advance(30_000);
      }
      expect(siem.received).toEqual([]);
      expect(await sinkLag(db, 'siem', 'audit')).toBe((await allEventIds()).length);
      const job = await db.owner.selectFrom('jobs').selectAll().where('kind', '=', 'audit.deliver.audit.siem').executeTakeFirstOrThrow();
      expect(job.last_error).toMatch(/503/);

      siem.setDown(false);
      clock.advance(60_000);
      await jobs.runDue(10);
      expect(await sinkLag(db, 'siem', 'audit')).toBe(0);
      const delivered = siem.received.flatMap((r) => r.body.trim().split('\n').map((line) => JSON.parse(line).event.id as string));
      expect([...new Set(delivered)].sort()).toEqual(await allEventIds());
    } finally {
      await siem.close();
    }
  });

  it('MO-1 HTTP sink formats: Splunk HEC and Elastic bulk with the event id as document id', async () => {
    const siem = await collector();
    try {
      await record(a, 'customer.deleted');
      const secrets = envSecretsProvider({ env: { RAMPART_SECRET_SIEM_TOKEN: 'hec-token-1' } });
      await deliverPending({ db, sink: httpSink({ type: 'http', name: 'hec', url: siem.url, format: 'splunk-hec', tokenSecret: 'siem_token', authScheme: 'Splunk', timeoutMs: 2000 }, secrets), source: 'audit' });
      const hec = siem.received[0]!;
      expect(hec.headers.authorization).toBe('Splunk hec-token-1');
      const first = JSON.parse(hec.body.split('\n')[0]!);
      expect(first).toMatchObject({ sourcetype: '_json', source: 'rampart', event: { event: { dataset: 'rampart.audit' } } });
      await deliverPending({ db, sink: httpSink({ type: 'http', name: 'elastic', url: siem.url, format: 'elastic-bulk', index: 'audit-x', authScheme: 'ApiKey', timeoutMs: 2000 }, secrets), source: 'audit' });
      const lines = siem.received[1]!.body.trim().split('\n').map((line) => JSON.parse(line));
      expect(lines.length % 2).toBe(0);
      expect(lines[0].create).toEqual({ _index: 'audit-x', _id: lines[1].event.id });
    } finally {
      await siem.close();
    }
  });

  it('MO-1 syslog sink: RFC 5424 messages with octet-counting framing over TCP', async () => {
    let data = '';
    const server = net.createServer((socket) => socket.on('data', (chunk) => (data += chunk.toString())));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as net.AddressInfo;
      await record(b, 'customer.exported');
      await deliverPending({ db, sink: syslogSink({ type: 'syslog', name: 'syslog', host: '127.0.0.1', port, tls: false, appName: 'rampart' }), source: 'audit' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const frames: string[] = [];
      let rest = data;
      while (rest.length) {
        const space = rest.indexOf(' ');
        const length = Number(rest.slice(0, space));
        const bytes = Buffer.from(rest.slice(space + 1));
        frames.push(bytes.subarray(0, length).toString());
        rest = bytes.subarray(length).toString();
      }
      expect(frames.length).toBeGreaterThan(0);
      for (const frame of frames) {
        expect(frame).toMatch(/^<110>1 \d{4}-\d\d-\d\dT[\d:.]+Z \S+ rampart - audit \[rampart@32473 id="[0-9a-f-]{36}" chain="[^"]+" seq="\d+"\] \{/);
        const json = JSON.parse(frame.slice(frame.indexOf('] ') + 2));
        expect(json.event.dataset).toBe('rampart.audit');
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('MO-1 syslog over TLS verifies the collector certificate', async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    const cert = await readFile(join(dir, 'cert.pem'));
    let data = '';
    const server = tls.createServer({ key: await readFile(join(dir, 'key.pem')), cert }, (socket) => socket.on('data', (chunk) => (data += chunk.toString())));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as net.AddressInfo;
      await record(a, 'customer.viewed');
      // Without the collector's CA the handshake is refused and nothing is marked delivered.
      const untrusted = syslogSink({ type: 'syslog', name: 'tls-untrusted', host: '127.0.0.1', port, tls: true, appName: 'rampart' });
      await expect(deliverPending({ db, sink: untrusted, source: 'audit' })).rejects.toThrow(/self-signed|certificate/);
      expect(await sinkLag(db, 'tls-untrusted', 'audit')).toBeGreaterThan(0);
      const trusted = syslogSink({ type: 'syslog', name: 'tls', host: '127.0.0.1', port, tls: true, appName: 'rampart' }, cert);
      const result = await deliverPending({ db, sink: trusted, source: 'audit' });
      expect(result.delivered).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(data).toContain('rampart@32473');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('MO-2 alerts reach an email inbox as one digest per batch, over STARTTLS', async () => {
    const messages: Array<{ from: string; to: string[]; body: string; secure: boolean }> = [];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-days', '1', '-keyout', join(dir, 'smtp-key.pem'), '-out', join(dir, 'smtp-cert.pem')], { stdio: 'ignore' });
    const smtp = new SMTPServer({
      key: await readFile(join(dir, 'smtp-key.pem')),
      cert: await readFile(join(dir, 'smtp-cert.pem')),
      authOptional: true,
      logger: false,
      onData(stream, session, callback) {
        let body = '';
        stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
        stream.on('end', () => {
          messages.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), body, secure: session.secure });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const { port } = smtp.server.address() as net.AddressInfo;
    try {
      await record(b, 'billing.payout.updated');
      await record(b, 'member.role.granted');
      const ca = await readFile(join(dir, 'smtp-cert.pem'));
      const config = { type: 'email' as const, name: 'oncall', smtpUrl: `smtp://127.0.0.1:${port}`, requireTls: true, from: 'rampart@example.test', to: ['oncall@example.test'] };
      // Without trusting the relay's certificate nothing is sent and the cursor stays put.
      await expect(deliverPending({ db, sink: emailSink({ ...config, name: 'untrusted' }, envSecretsProvider({ env: {} })), source: 'alerts' })).rejects.toThrow(/certificate/);
      const sink = emailSink(config, envSecretsProvider({ env: {} }), ca);
      const result = await deliverPending({ db, sink, source: 'alerts' });
      expect(result.delivered).toBeGreaterThan(0);
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({ from: 'rampart@example.test', to: ['oncall@example.test'], secure: true });
      expect(messages[0]!.body).toMatch(/Subject: \[Rampart\] \d+ critical alerts?/);
      expect(messages[0]!.body.replace(/=\r\n/g, '')).toContain('payout or bank details changed');
    } finally {
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    }
  });

  it('MO-2 alerts reach a webhook, signed so the receiver can verify them', async () => {
    const receiver = await collector();
    try {
      await record(a, 'authz.matrix.updated');
      const secrets = envSecretsProvider({ env: { RAMPART_SECRET_ALERT_WEBHOOK: 'whsec_test_1' } });
      const sink = webhookSink({ type: 'webhook', name: 'pager', url: receiver.url, signingSecret: 'alert_webhook', timeoutMs: 2000 }, secrets, () => 1_780_000_000_000);
      expect((await deliverPending({ db, sink, source: 'alerts' })).delivered).toBeGreaterThanOrEqual(1);
      const delivery = receiver.received[0]!;
      const signature = String(delivery.headers['rampart-signature']);
      const [t, v1] = signature.split(',').map((part) => part.split('=')[1]);
      expect(v1).toBe(createHmac('sha256', 'whsec_test_1').update(`${t}.${delivery.body}`).digest('hex'));
      const body = JSON.parse(delivery.body);
      expect(body.alerts).toContainEqual(expect.objectContaining({ event: expect.objectContaining({ kind: 'alert', action: 'permission-change' }), rule: { id: 'permission-change', name: 'permission-change' } }));
      expect((await deliverPending({ db, sink, source: 'alerts' })).delivered).toBe(0);
    } finally {
      await receiver.close();
    }
  });
});
