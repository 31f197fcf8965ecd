/* Quick exit, second step: the cookie is already gone; go on to a search engine, replacing this page in history. */
window.location.replace('https://www.google.com/');
