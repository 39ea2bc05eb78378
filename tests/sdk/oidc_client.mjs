// openid-client 6.x (panva; what nextjs-auth0 4 and express-openid-connect build on) as a
// regular web app: discovery, the code flow with PKCE, state and nonce through the hosted
// login page (driven over HTTP: the page works without JavaScript), the token response
// validated by the library (signature from the JWKS, iss, aud, nonce), userinfo, and
// RP-initiated logout at the advertised end_session_endpoint.
import * as client from 'openid-client';

const { LK_DOMAIN: domain, LK_EMAIL: email } = process.env;
const password = 'Passw0rd!';
const callback = 'https://rp.example/callback';
let passed = 0;
const failures = [];
const check = (name, cond, detail = '') => {
  if (cond) { passed++; console.log(`  ok   openid-client: ${name}`); }
  else { failures.push(name); console.log(`  FAIL openid-client: ${name} ${JSON.stringify(detail)}`); }
};

// A cookie jar of one browser, by name.
const jar = new Map();
const remember = (res) => {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const i = pair.indexOf('=');
    jar.set(pair.slice(0, i), pair.slice(i + 1));
  }
};
const cookies = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
const get = async (url) => {
  const res = await fetch(url, { redirect: 'manual', headers: { cookie: cookies() } });
  remember(res);
  return res;
};

try {
  const config = await client.discovery(new URL(`https://${domain}/`), 'sdk-oidc-client', 'sdk-oidc-secret');
  const meta = config.serverMetadata();
  check('discovery: issuer and every endpoint', meta.issuer === `https://${domain}/`
    && meta.authorization_endpoint && meta.end_session_endpoint && meta.code_challenge_methods_supported?.includes('S256'), meta);

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: callback, scope: 'openid profile email', state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  let res = await get(url);
  const page = new URL(res.headers.get('location'), `https://${domain}/`);
  res = await get(page);
  const html = await res.text();
  const csrf = html.match(/name="_csrf" value="([^"]+)"/)[1].replaceAll('&#x2f;', '/').replaceAll('&#x3d;', '=').replaceAll('&#x2b;', '+');
  res = await fetch(page, {
    method: 'POST', redirect: 'manual',
    headers: { cookie: cookies(), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, username: email, password, action: 'default' }),
  });
  remember(res);
  const back = res.headers.get('location');
  check('the login page answers the callback with a code', res.status === 302 && back?.startsWith(`${callback}?code=`), { status: res.status, back });

  const tokens = await client.authorizationCodeGrant(config, new URL(back), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  const claims = tokens.claims();
  check('authorizationCodeGrant validates the id_token', claims.email === email && claims.nonce === nonce && !!claims.auth_time, claims);
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  check('fetchUserInfo returns the profile', info.email === email, info);

  const logout = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token, post_logout_redirect_uri: 'https://rp.example/bye', state: 'after',
  });
  res = await get(logout);
  check('RP-initiated logout returns to the listed URL with state', res.status === 302
    && res.headers.get('location') === 'https://rp.example/bye?state=after', { status: res.status, to: res.headers.get('location') });
  res = await get(client.buildAuthorizationUrl(config, { redirect_uri: callback, scope: 'openid', prompt: 'none', nonce }));
  check('after logout, prompt=none answers login_required', (res.headers.get('location') || '').includes('error=login_required'), res.headers.get('location'));
} catch (e) {
  failures.push(e.message);
  console.log(`  FAIL openid-client: ${e.stack}`);
}
console.log(`openid-client: ${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
