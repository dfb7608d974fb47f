// Starts Swagger UI from our own copy (no CDN), outside the page so the CSP needs no inline script.
const root = document.getElementById("swagger-ui");
window.SwaggerUIBundle({
  url: root.dataset.specUrl,
  domNode: root,
  deepLinking: false,
  // The catalog API is public: nothing to sign in with, and no credentials to send.
  withCredentials: false,
});
