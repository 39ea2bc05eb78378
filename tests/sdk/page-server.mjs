// Serves a page that loads auth0.js, on two origins: one a client lists in web_origins and one
// it doesn't; and a single-page app built on auth0-spa-js on a third origin (the hosted-login
// tests). Prints the origins, then serves until killed.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const auth0js = readFileSync(require.resolve('auth0-js/dist/auth0.min.js'));
const spajs = readFileSync(require.resolve('@auth0/auth0-spa-js/dist/auth0-spa-js.production.js'));
const page = `<!doctype html><html><head><meta charset="utf-8"><title>latchkey SDK test</title>
<script src="/auth0.min.js"></script>
<script>
window.signup = (cfg) => new Promise((resolve) => {
  const webAuth = new auth0.WebAuth({ domain: cfg.domain, clientID: cfg.clientID });
  webAuth.signup({ connection: cfg.connection, email: cfg.email, password: cfg.password,
                   user_metadata: { plan: 'silver' } }, (err, res) => {
    resolve({ err: err ? { code: err.code || null, description: err.description || null,
                          statusCode: err.statusCode || null } : null, res: res || null });
  });
});
// client.login (password-realm) then client.userInfo and validateToken on the id_token.
window.login = (cfg) => new Promise((resolve) => {
  const webAuth = new auth0.WebAuth({ domain: cfg.domain, clientID: cfg.clientID });
  const fail = (step) => (err) => resolve({ step, err: { code: err.code || err.error || null,
    description: err.description || err.error_description || err.message || null, statusCode: err.statusCode || null } });
  webAuth.client.login({ realm: cfg.connection, username: cfg.email, password: cfg.password,
                         scope: 'openid profile email' }, (err, tokens) => {
    if (err) return fail('login')(err);
    webAuth.client.userInfo(tokens.accessToken, (err, profile) => {
      if (err) return fail('userInfo')(err);
      webAuth.validateToken(tokens.idToken, null, (err, claims) => {
        if (err) return fail('validateToken')(err);
        resolve({ step: 'done', err: null, tokens, profile, claims });
      });
    });
  });
});
// Hosted login with auth0.js: webAuth.authorize (implicit), parseHash on return (it validates
// the id_token: RS256 by kid from the JWKS, iss, aud, nonce) and checkSession (web_message).
const implicitAuth = (cfg) => new auth0.WebAuth({ domain: cfg.domain, clientID: cfg.clientID,
  redirectUri: location.origin + '/', responseType: 'id_token token', scope: 'openid profile email' });
window.authorize = (cfg) => { sessionStorage.setItem('a0', JSON.stringify(cfg)); implicitAuth(cfg).authorize(); return true; };
window.parsed = new Promise((resolve) => {
  const cfg = JSON.parse(sessionStorage.getItem('a0') || 'null');
  if (!cfg || !location.hash) return resolve(null);
  implicitAuth(cfg).parseHash({ hash: location.hash }, (err, res) =>
    resolve({ err: err ? { error: err.error || null, description: err.errorDescription || err.error_description || null } : null,
              email: res && res.idTokenPayload && res.idTokenPayload.email, accessToken: !!(res && res.accessToken) }));
});
window.checkSession = (cfg) => new Promise((resolve) => implicitAuth(cfg).checkSession({}, (err, res) =>
  resolve({ err: err ? { error: err.error || null, description: err.error_description || err.errorDescription || null } : null,
            email: res && res.idTokenPayload && res.idTokenPayload.email })));
</script></head><body>latchkey</body></html>`;

const serve = () => new Promise((resolve) => {
  const server = http.createServer((req, res) => {
    if (req.url === '/auth0.min.js') {
      res.writeHead(200, { 'content-type': 'application/javascript' });
      res.end(auth0js);
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
    }
  });
  server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`));
});

// The SPA: every page load handles a redirect callback if there is one; the test drives the
// rest through window.spa(...) with the client's settings in the query (?domain=&client=).
const spaPage = `<!doctype html><html><head><meta charset="utf-8"><title>SPA</title>
<script src="/spa.js"></script>
<script>
const q = new URLSearchParams(location.search);
const conf = () => JSON.parse(sessionStorage.getItem('cfg') || 'null');
const client = (refresh, cfg = conf()) => auth0.createAuth0Client({
  domain: cfg.domain, clientId: cfg.clientId, cacheLocation: 'localstorage',
  useRefreshTokens: !!refresh, useRefreshTokensFallback: false,
  authorizationParams: { redirect_uri: location.origin + '/callback',
    scope: refresh ? 'openid profile email offline_access' : 'openid profile email' },
});
const describe = (e) => ({ error: e.error || e.message || String(e), description: e.error_description || null });
window.spa = async (op, arg) => {
  try {
    if (op === 'configure') { sessionStorage.setItem('cfg', JSON.stringify(arg)); return { ok: true }; }
    const c = await client(conf().refresh);
    if (op === 'login') { await c.loginWithRedirect({ authorizationParams: arg || {} }); return { ok: true }; }
    if (op === 'user') return { ok: true, user: await c.getUser() };
    if (op === 'silent') {
      const token = await c.getTokenSilently({ cacheMode: 'off', detailedResponse: true });
      return { ok: true, token };
    }
    if (op === 'logout') { await c.logout({ logoutParams: { returnTo: location.origin + '/' } }); return { ok: true }; }
  } catch (e) { return { ok: false, ...describe(e) }; }
};
window.callback = (async () => {
  const cfg = conf();
  if (!cfg || !q.has('state')) return null;
  try {
    const c = await client(cfg.refresh);
    await c.handleRedirectCallback();
    return { ok: true, user: await c.getUser() };
  } catch (e) { return { ok: false, ...describe(e) }; }
})();
</script></head><body><h1>SPA</h1></body></html>`;

const serveSpa = () => new Promise((resolve) => {
  const server = http.createServer((req, res) => {
    if (req.url === '/spa.js') {
      res.writeHead(200, { 'content-type': 'application/javascript' });
      res.end(spajs);
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(spaPage);
    }
  });
  server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`));
});

const allowed = await serve();
const refused = await serve();
const spa = await serveSpa();
console.log(`ALLOWED ${allowed}`);
console.log(`REFUSED ${refused}`);
console.log(`SPA ${spa}`);
