/*
 * The demo site's tracking: Segment's analytics.js (the standalone bundle, unchanged) pointed at stagetrack.
 * config.js (written by `make demo`, or served by the tests) sets window.STAGETRACK_SITE:
 *   writeKey  a stagetrack tracker key whose allowed origins include this site's origin
 *   cdn       stagetrack's ingest, e.g. "http://127.0.0.1:8000": analytics.js loads its settings from
 *             <cdn>/v1/projects/<writeKey>/settings and its lazy chunks from <cdn>/analytics-next/bundles/
 *   bundle    (optional) where analytics.min.js comes from; default <cdn>/analytics.js/v1/<writeKey>/analytics.min.js,
 *             the path Segment's own snippet uses on its CDN
 *   batching  (optional) true: analytics.js batches calls to <cdn>/v1/b instead of one post per call
 *   leadId, leadIdHash  (optional) a visitor the site's server knows (signed in): the CRM lead id and its
 *             identity-verification hash, HMAC-SHA256 of the id keyed with the key's verification secret,
 *             which stays on the server; the contact form then identifies the visitor with that id
 */
(function () {
  "use strict";
  var site = window.STAGETRACK_SITE;
  if (!site || !site.writeKey || !site.cdn) {
    console.error("stagetrack demo: config.js is missing or has no writeKey/cdn; run `make demo`");
    return;
  }
  var cdn = site.cdn.replace(/\/+$/, "");
  var segmentio = {
    // analytics.js posts to <protocol>://<apiHost>/<t|p|i|a|g|s|b>; "/v1" keeps stagetrack's paths under /v1
    apiHost: cdn.replace(/^https?:\/\//, "") + "/v1",
    protocol: cdn.indexOf("http://") === 0 ? "http" : "https"
  };
  if (site.batching) segmentio.deliveryStrategy = { strategy: "batching", config: { size: 10, timeout: 1000 } };

  // What Segment's snippet does: a queue that records calls until the bundle arrives and replays them.
  var analytics = (window.analytics = window.analytics || []);
  if (analytics.initialize || analytics.invoked) return;
  analytics.invoked = true;
  ["page", "track", "identify", "alias", "group", "screen", "reset", "ready", "on", "off", "debug",
   "addSourceMiddleware", "setAnonymousId"].forEach(function (method) {
    analytics[method] = function () {
      var call = Array.prototype.slice.call(arguments);
      call.unshift(method);
      analytics.push(call);
      return analytics;
    };
  });
  analytics._writeKey = site.writeKey;
  // http:// CDNs are not recognised from the script tag (analytics.js matches https:// only): say it outright
  analytics._cdn = cdn;
  analytics._loadOptions = { integrations: { "Segment.io": segmentio } };
  if (site.leadId && site.leadIdHash) {
    // A tracker key's userId is accepted only with its hash (context.stagetrack.lead_id_hash), and analytics.js
    // puts the userId on every call once identified, on later pages too: so the hash goes on every such call.
    analytics.addSourceMiddleware(function (ctx) {
      var call = ctx.payload.obj;
      if (call.userId === site.leadId) {
        call.context = call.context || {};
        call.context.stagetrack = { lead_id_hash: site.leadIdHash };
      }
      ctx.next(ctx.payload);
    });
  }

  var script = document.createElement("script");
  script.async = true;
  script.src = site.bundle || cdn + "/analytics.js/v1/" + encodeURIComponent(site.writeKey) + "/analytics.min.js";
  document.head.appendChild(script);

  analytics.page();
})();
