/**
 * A browser in miniature for OAuth flows: follows redirects from `url`, keeping the cookies the
 * server sets and sending `cookie` (e.g. a Rampart session) along, until a redirect lands on a URL
 * starting with `landing`, which it returns. Throws on a response without a redirect.
 */
export async function followRedirects(url: URL | string, { cookie = '', landing }: { cookie?: string; landing: string }): Promise<URL> {
  const jar = new Map<string, string>();
  let next = url.toString();
  for (let hop = 0; hop < 12; hop++) {
    const header = [...[...jar].map(([k, v]) => `${k}=${v}`), cookie].filter(Boolean).join('; ');
    const response = await fetch(next, { redirect: 'manual', headers: { cookie: header } });
    for (const line of response.headers.getSetCookie()) {
      const [name, ...value] = line.split(';')[0]!.split('=');
      jar.set(name!, value.join('='));
    }
    const location = response.headers.get('location');
    if (!location) throw new Error(`no redirect at hop ${hop}: ${response.status} ${(await response.text()).slice(0, 300)}`);
    const target = new URL(location, next);
    if (target.toString().startsWith(landing)) return target;
    next = target.toString();
  }
  throw new Error('too many redirects');
}
