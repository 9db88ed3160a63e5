// When a generated subscription expires: each runs in terms of one month or one year from a
// start date of its own, fixed by the seed, so that its expiration date is the end of the
// term it is in. That date stays put from run to run and day to day, and moves one term on
// (a renewal) only once it has passed. Some subscriptions stop renewing after a few terms:
// they stay listed, expired, for a while, drop out, and may be bought again later.
import { Random } from "./data.ts";

const DAY_MS = 86_400_000;
/** Generated subscriptions start in these four years: every one has begun by now. */
const FIRST_YEAR = 2019;
const START_YEARS = 4;
/** How long a subscription that was not renewed stays listed, expired. */
const LISTED_EXPIRED_DAYS = 30;
/** How long it stays away after that before it is bought again: 30 to 209 days. */
const AWAY_DAYS = { min: 30, spread: 180 };

/** The part of a subscription's history that fixes when it expires; drawn once per product. */
export interface TermPlan {
  /** The seed and the product's key (customer and slot): what every later draw derives from. */
  readonly seed: number;
  readonly key: string;
  /** 1 (paid monthly) or 12. */
  readonly months: number;
  /** The first day of its first term (midnight UTC). */
  readonly start: number;
  /** Whether it renews for ever; else each purchase lasts a few terms. */
  readonly renews: boolean;
}

/** Where a subscription stands at an instant. */
export interface CurrentTerm {
  /** The end of the current term (midnight UTC); in the past once it was not renewed. */
  readonly expiration: number;
  /** Which purchase (0 first) and which term of it (1 first): what seat changes key on. */
  readonly purchase: number;
  readonly term: number;
}

/** A plan for a product: its term length and start, from the product's own draws. */
export function drawPlan(seed: number, key: string, monthly: boolean, renews: boolean): TermPlan {
  const random = Random.forCustomer(seed, `terms:${key}`);
  // Days 1 to 28 only: every month has them, so a term always ends on its start's day.
  const start = Date.UTC(FIRST_YEAR + random.int(START_YEARS), random.int(12), 1 + random.int(28));
  return { seed, key, months: monthly ? 1 : 12, start, renews };
}

function addMonths(ms: number, months: number): number {
  const date = new Date(ms);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + months, date.getUTCDate());
}

/** `day`, or the 1st of the next month after a 28th: a term must end on its start's day. */
function firstDayOfTerms(day: number): number {
  const date = new Date(day);
  return date.getUTCDate() <= 28 ? day : Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
}

/** The same day `years` later (29 February becomes 1 March). */
export function addYears(ms: number, years: number): number {
  return addMonths(ms, 12 * years);
}

/**
 * Where `plan`'s subscription stands at `now`: the term it is in, or its last term's end
 * while it is listed expired; undefined while it is away (not listed).
 */
export function currentTerm(plan: TermPlan, now: number): CurrentTerm | undefined {
  let start = plan.start;
  for (let purchase = 0; ; purchase++) {
    const random = Random.forCustomer(plan.seed, `purchase:${plan.key}:${purchase}`);
    // A monthly subscription not renewed for ever lasts 1 to 12 terms, a yearly 1 to 3.
    const terms = plan.renews ? Infinity : 1 + random.int(plan.months === 1 ? 12 : 3);
    // The first term whose end is after `now`: counted from a low estimate of the months
    // elapsed (31 days each), then stepped up.
    const elapsed = Math.max(0, Math.floor((now - start) / (31 * DAY_MS)));
    let term = Math.max(1, Math.floor(elapsed / plan.months));
    while (addMonths(start, term * plan.months) <= now) term++;
    if (term <= terms) {
      return { expiration: addMonths(start, term * plan.months), purchase, term };
    }
    const lapsed = addMonths(start, terms * plan.months);
    if (now < lapsed + LISTED_EXPIRED_DAYS * DAY_MS) {
      return { expiration: lapsed, purchase, term: terms };
    }
    const back = firstDayOfTerms(
      lapsed + (LISTED_EXPIRED_DAYS + AWAY_DAYS.min + random.int(AWAY_DAYS.spread)) * DAY_MS,
    );
    if (now < back) return undefined;
    start = back;
  }
}
