import { describe, expect, it } from 'vitest';
import { escapeHtml, html } from './html.js';

describe('html tagged template', () => {
  it('escapes every interpolation, in text and attributes', () => {
    const evil = `<script>alert("x")</script>' onerror='a' & more`;
    const out = html`<p title="${evil}">${evil}</p>`.value;
    expect(out).not.toContain('<script>');
    expect(out).not.toMatch(/title="[^"]*"[^>]*onerror/);
    expect(out).toBe(`<p title="${escapeHtml(evil)}">${escapeHtml(evil)}</p>`);
    expect(escapeHtml(`&<>"'`)).toBe('&amp;&lt;&gt;&quot;&#39;');
  });

  it('nests html fragments unescaped, flattens lists, renders nothing for false/null/undefined', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<div>${inner}${[html`<em>1</em>`, '<2>']}${false}${null}${undefined}${0}</div>`.value).toBe('<div><b>&lt;i&gt;</b><em>1</em>&lt;2&gt;0</div>');
  });

  it('a look-alike object is not trusted markup', () => {
    const forged = { value: '<script>alert(1)</script>' } as unknown as string;
    expect(html`${forged}`.value).not.toContain('<script>');
  });
});
