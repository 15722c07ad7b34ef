// A third-party OpenID Connect provider for the production-path test (tests/integration/test_production.py):
// the maintained npm `oidc-provider` (panva), over HTTPS with the test's CA-signed certificate. The enclave knows
// it only by its issuer URL. Its accounts are the test's; the sign-in form is the package's own
// (devInteractions, which accepts any password: this is a test stand-in for an institution's IdP, never
// something to deploy). Usage:
//   node scripts/oidc_test_provider.mjs CONFIG.json
// CONFIG: {issuer, host, port, cert, key, client_id, client_secret, redirect_uri, post_logout_redirect_uri,
//          accounts: {sub: {name, institution, groups: [...], email}}}
import fs from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const conf = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

const provider = new Provider(conf.issuer, {
  clients: [{
    client_id: conf.client_id,
    client_secret: conf.client_secret,
    redirect_uris: [conf.redirect_uri],
    post_logout_redirect_uris: [conf.post_logout_redirect_uri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: {
    openid: ['sub'],
    profile: ['name', 'institution'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: [conf.client_secret] },
  async findAccount(_ctx, sub) {
    const account = conf.accounts[sub];
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, name: account.name, institution: account.institution, groups: account.groups,
                 email: account.email, email_verified: true };
      },
    };
  },
});

https.createServer({ cert: fs.readFileSync(conf.cert), key: fs.readFileSync(conf.key) }, provider.callback())
  .listen(conf.port, conf.host, () => console.log(`oidc-provider listening at ${conf.issuer}`));
