// Two regular web apps on express-openid-connect 3.x, over HTTPS (form_post from the HTTPS
// login page to a plain-HTTP app would meet Chromium's insecure-form warning): one with a
// secret and `response_type: code`, one with the library's default (`id_token` + form_post).
// Prints their origins at once; each builds its middleware on its first request, from the
// issuer written to LK_ISSUER_FILE once latchkey has started.
import https from 'node:https';
import { readFileSync } from 'node:fs';
import express from 'express';
import eoc from 'express-openid-connect';

const { LK_ISSUER_FILE, TLS_CERT, TLS_KEY } = process.env;
const tls = { cert: readFileSync(TLS_CERT), key: readFileSync(TLS_KEY) };

const app = (name, clientID, extra) => new Promise((resolve) => {
  let handler = null;
  const server = https.createServer(tls, (req, res) => {
    if (!handler) {
      const issuer = readFileSync(LK_ISSUER_FILE, 'utf8').trim();
      const a = express();
      a.use(eoc.auth({
        issuerBaseURL: issuer,
        baseURL: origin,
        clientID,
        secret: `a session secret for the ${name} app, long enough`,
        authRequired: false,
        idpLogout: true,
        ...extra,
      }));
      a.get('/', (rq, rs) => rs.json({ authenticated: rq.oidc.isAuthenticated(), user: rq.oidc.user || null }));
      a.use((err, rq, rs, next) => rs.status(500).json({ error: err.message }));
      handler = a;
    }
    handler(req, res);
  });
  let origin;
  server.listen(0, '127.0.0.1', () => {
    origin = `https://127.0.0.1:${server.address().port}`;
    resolve(origin);
  });
});

const code = await app('code', 'sdk-rwa-code', {
  clientSecret: 'sdk-rwa-secret',
  authorizationParams: { response_type: 'code', scope: 'openid profile email' },
});
const implicit = await app('form_post', 'sdk-rwa-implicit', {});
console.log(`RP_CODE ${code}`);
console.log(`RP_IMPLICIT ${implicit}`);
