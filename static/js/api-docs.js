// Redoc on /api/docs/, under the site's Content Security Policy. Loaded before Redoc's bundle, with the
// page's nonce: it prepares the page for the bundle, then starts Redoc once the bundle has loaded.
(function () {
  "use strict";

  var nonce = document.currentScript && document.currentScript.nonce;

  // Redoc adds <style> elements: styled-components ones take the `nonce` option below, but the bundle
  // also adds one as it loads (its scrollbar styles), before any option can reach it. Every <style>
  // created by a script on this page gets the nonce; only our nonce-bearing scripts run here.
  var createElement = document.createElement;
  document.createElement = function (tagName, options) {
    var element = createElement.call(document, tagName, options);
    if (nonce && String(tagName).toLowerCase() === "style") {
      element.nonce = nonce;
    }
    return element;
  };

  // Redoc's menu footer shows its maker's logo from their CDN. The policy refuses other origins' images,
  // and visitors' browsers should not call third parties, so that source is dropped before it is fetched
  // (the stylesheet hides the empty image; the "API docs by Redocly" credit stays).
  var setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function (name, value) {
    if (this instanceof HTMLImageElement && String(name).toLowerCase() === "src" && !isSameOrigin(value)) {
      return undefined;
    }
    return setAttribute.call(this, name, value);
  };
  var source = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
  Object.defineProperty(HTMLImageElement.prototype, "src", {
    configurable: true,
    enumerable: source.enumerable,
    get: source.get,
    set: function (value) {
      if (isSameOrigin(value)) {
        source.set.call(this, value);
      }
    },
  });

  function isSameOrigin(url) {
    try {
      var parsed = new URL(String(url), document.baseURI);
      return parsed.origin === window.location.origin || parsed.protocol === "data:";
    } catch (error) {
      return false;
    }
  }

  function start() {
    var container = document.getElementById("redoc");
    if (!container || typeof window.Redoc === "undefined") {
      return;
    }
    var root = getComputedStyle(document.documentElement);
    var font = root.getPropertyValue("--font").trim();
    var mono = root.getPropertyValue("--mono").trim();
    window.Redoc.init(
      container.dataset.schemaUrl,
      {
        nonce: nonce,
        expandResponses: "200,201",
        jsonSampleExpandLevel: 3,
        requiredPropsFirst: true,
        pathInMiddlePanel: true,
        downloadFileName: "greenlight-openapi.json",
        theme: {
          colors: { primary: { main: "#1f7a4d" }, text: { primary: "#1b2430" } },
          typography: {
            fontSize: "15px",
            fontFamily: font,
            headings: { fontFamily: font, fontWeight: "650" },
            code: { fontFamily: mono },
            links: { color: "#1f7a4d" },
          },
          sidebar: { backgroundColor: "#f5f7f8", textColor: "#1b2430", activeTextColor: "#1f7a4d" },
          rightPanel: { backgroundColor: "#1b2430" },
        },
      },
      container
    );
  }

  // The bundle is the next script on the page: it has run by the time the document is parsed.
  document.addEventListener("DOMContentLoaded", start);
})();
