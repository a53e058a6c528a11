/* The contact form: the visitor names themselves (identify, email as a trait), then the form is counted
   (track "Form Submitted"). The page stays, so no call is cut short by a navigation. */
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
    window.analytics.identify(traits);
    window.analytics.track("Form Submitted", { form: "contact", interest: form.elements.interest.value });
    form.hidden = true;
    thanks.hidden = false;
  });
})();
