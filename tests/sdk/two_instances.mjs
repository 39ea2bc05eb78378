// Two latchkey instances (started binaries, HTTPS) on one PostgreSQL database: a login through
// instance A's hosted page, then silent authentication and logout through instance B, and the
// session gone at A too. Driven over HTTP as a browser would (the pages need no JavaScript).
const { LK_A: a, LK_B: b, LK_EMAIL: email } = process.env;
const client = 'sdk-oidc-client';
const callback = 'https://rp.example/callback';
let passed = 0;
const failures = [];
const check = (name, cond, detail = '') => {
  if (cond) { passed++; console.log(`  ok   two-instances: ${name}`); }
  else { failures.push(name); console.log(`  FAIL two-instances: ${name} ${JSON.stringify(detail)}`); }
};

// Cookies are per host, not per port: one jar for both instances on 127.0.0.1.
const jar = new Map();
const remember = (res) => {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    const [k, v] = [pair.slice(0, i), pair.slice(i + 1)];
    if (/Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(c) || v === '') jar.delete(k); else jar.set(k, v);
  }
};
const cookies = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
const get = async (url) => {
  const res = await fetch(url, { redirect: 'manual', headers: { cookie: cookies() } });
  remember(res);
  return res;
};
const authorize = (base, extra = {}) => `${base}/authorize?` + new URLSearchParams({
  client_id: client, response_type: 'code', redirect_uri: callback, scope: 'openid email', ...extra,
});

try {
  let res = await get(authorize(a, { prompt: 'login' }));
  const page = new URL(res.headers.get('location'), a);
  res = await get(page);
  const html = await res.text();
  const csrf = html.match(/name="_csrf" value="([^"]+)"/)[1].replaceAll('&#x2f;', '/');
  res = await fetch(page, {
    method: 'POST', redirect: 'manual',
    headers: { cookie: cookies(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, username: email, password: 'Passw0rd!', action: 'default' }),
  });
  remember(res);
  check('login through A', res.status === 302 && (res.headers.get('location') || '').startsWith(`${callback}?code=`), res.status);

  res = await get(authorize(b, { prompt: 'none' }));
  const silent = res.headers.get('location') || '';
  check('silent auth through B answers from A\'s session', silent.startsWith(`${callback}?code=`), silent);
  const code = new URL(silent).searchParams.get('code');
  res = await fetch(`${a}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded',
               authorization: `Basic ${Buffer.from(`${client}:sdk-oidc-secret`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: callback }),
  });
  const tokens = await res.json();
  check('B\'s code is exchanged at A', res.status === 200 && !!tokens.id_token, tokens);

  // Kept, to show the session is ended in the store and not only forgotten by the browser.
  const old = jar.get('auth0');
  res = await get(`${b}/v2/logout?client_id=${client}&returnTo=${encodeURIComponent('https://rp.example/bye')}`);
  check('logout through B', res.status === 302 && res.headers.get('location') === 'https://rp.example/bye', res.status);
  jar.set('auth0', old);
  res = await get(authorize(a, { prompt: 'none' }));
  check('the session is gone at A too', (res.headers.get('location') || '').includes('error=login_required'), res.headers.get('location'));
} catch (e) {
  failures.push(e.message);
  console.log(`  FAIL two-instances: ${e.stack}`);
}
console.log(`two-instances: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
