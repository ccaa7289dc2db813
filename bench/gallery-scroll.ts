// The gallery page's scroll to the end (issue 25), shared by the bench (gallery-page.ts) and the 200,000-file
// page test (test/web/page-scale.test.ts): an expression to evaluate in the page, with a channel open. It scrolls
// the grid from the top to the end in 101 steps over the whole height, then the last screens 97 px at a time (as
// a wheel would), waiting two frames after each step, and ends at the end. Its value: the number of elements in
// the document after each step.
export const SCROLL_TO_END_COUNTS = `(async () => {
  const s = document.querySelector('.scroller');
  const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const counts = [];
  const end = s.scrollHeight - s.clientHeight;
  for (let step = 0; step <= 100; step++) {
    s.scrollTop = Math.round((end * step) / 100);
    await frame();
    counts.push(document.getElementsByTagName('*').length);
  }
  for (let step = 0; step < 20; step++) {
    s.scrollTop = end - step * 97;
    await frame();
    counts.push(document.getElementsByTagName('*').length);
  }
  s.scrollTop = end;
  await frame();
  return counts;
})()`;
