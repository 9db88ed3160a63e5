// "Did you mean …?" for a mistyped command, option or value: the known names it is closest to.

/**
 * Levenshtein distance that also counts swapping two neighbouring characters as one edit
 * (optimal string alignment), because "snyc" for "sync" is the commonest typing slip.
 */
export function editDistance(a: string, b: string): number {
  // rows[i][j]: the distance between the first i characters of a and the first j of b.
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => rows[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const substitution = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** Options and commands compare without their dashes and case: "-customer", "Sync". */
function bare(name: string): string {
  return name.replace(/^-+/, "").toLowerCase();
}

/**
 * Edits allowed before a name stops looking like a slip: one in a short name, else two, and
 * always fewer than its length ("-x" is not a slip for "-h").
 */
function tolerance(input: string): number {
  return Math.min(input.length <= 3 ? 1 : 2, input.length - 1);
}

/**
 * The candidates `input` was most likely meant to be: those it abbreviates (three characters
 * at least), else the nearest within a couple of edits; none when nothing is close.
 */
export function closestNames(input: string, candidates: readonly string[]): string[] {
  const wanted = bare(input);
  if (wanted === "") return [];
  // One spelling per name, the first given: "help", not "help" or "--help".
  const unique = candidates.filter(
    (name, index) => candidates.findIndex((other) => bare(other) === bare(name)) === index,
  );
  if (wanted.length >= 3) {
    const abbreviated = unique.filter((candidate) => bare(candidate).startsWith(wanted));
    if (abbreviated.length > 0) return abbreviated;
  }
  const scored = unique.map((candidate) => ({
    candidate,
    distance: editDistance(wanted, bare(candidate)),
  }));
  const nearest = Math.min(...scored.map((entry) => entry.distance));
  if (nearest > tolerance(wanted)) return [];
  return scored.filter((entry) => entry.distance === nearest).map((entry) => entry.candidate);
}

/** ` Did you mean "sync"?`, ` Did you mean "start" or "status"?`, or "" when nothing is close. */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const names = closestNames(input, candidates).map((name) => `"${name}"`);
  if (names.length === 0) return "";
  const last = names.pop() ?? "";
  return ` Did you mean ${names.length > 0 ? `${names.join(", ")} or ${last}` : last}?`;
}
