// The print page's button (a file of its own: the page's Content-Security-Policy allows no inline script).
// Without JavaScript the button stays hidden and the browser's own print command does the same.
const button = document.getElementById("print-button");
button.hidden = false;
button.addEventListener("click", () => window.print());
