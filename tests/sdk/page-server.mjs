// Serves a page that loads auth0.js, on two origins: one a client lists in web_origins and one
// it doesn't. Prints both origins, then serves until killed.
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const auth0js = readFileSync(require.resolve('auth0-js/dist/auth0.min.js'));
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

const allowed = await serve();
const refused = await serve();
console.log(`ALLOWED ${allowed}`);
console.log(`REFUSED ${refused}`);
