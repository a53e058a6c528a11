/* The contact form: the visitor names themselves (identify, email as a trait), then the form is counted
   (track "Form Submitted": stagetrack's form_submitted, which needs form_id and email). A visitor the site's
   server knows (config.js' leadId, with its hash: site.js) is identified by that CRM id. The page stays, so no
   call is cut short by a navigation. */
(function () {
  "use strict";
  var form = document.getElementById("contact-form");
  var thanks = document.getElementById("thanks");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var email = form.elements.email.value.trim();
    var company = form.elements.company.value.trim();
    var traits = { email: email };
    if (company) traits.company = company;
    var site = window.STAGETRACK_SITE || {};
    if (site.leadId && site.leadIdHash) window.analytics.identify(site.leadId, traits);
    else window.analytics.identify(traits);
    window.analytics.track("Form Submitted", { form_id: "contact", email: email, interest: form.elements.interest.value });
    form.hidden = true;
    thanks.hidden = false;
  });
})();
