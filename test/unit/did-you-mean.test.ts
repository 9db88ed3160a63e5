// "Did you mean": which known names a mistyped one is taken for, and which it is not.
import { describe, expect, it } from "vitest";
import { closestNames, didYouMean, editDistance } from "../../src/suggest.ts";

const COMMANDS = ["sync", "start", "status", "migrate", "simulate", "demo", "report", "bi-access"];

describe("editDistance", () => {
  it.each([
    ["sync", "sync", 0],
    ["snyc", "sync", 1], // two neighbours swapped: one edit
    ["syn", "sync", 1],
    ["synco", "sync", 1],
    ["sinc", "sync", 1],
    ["custmoer", "customer", 1],
    ["", "abc", 3],
    ["abc", "", 3],
    ["kitten", "sitting", 3],
    ["ca", "abc", 3], // optimal string alignment: no edit of a swapped pair
  ])("%j to %j is %i", (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe("closestNames", () => {
  it.each([
    ["snyc", COMMANDS, ["sync"]],
    ["SYNC", COMMANDS, ["sync"]],
    ["stauts", COMMANDS, ["status"]],
    ["migrat", COMMANDS, ["migrate"]],
    ["sta", COMMANDS, ["start", "status"]], // abbreviates both
    ["stat", COMMANDS, ["status"]], // abbreviates status; one edit from start does not count then
    ["rep", COMMANDS, ["report"]],
    ["--customr", ["--customer", "--allow-mass-removal", "--no-migrate", "--help"], ["--customer"]],
    ["--no-migrat", ["--customer", "--no-migrate"], ["--no-migrate"]],
    ["version", ["sync", "--help", "--version"], ["--version"]], // dashes aside
    ["hlep", ["help", "--help"], ["help"]], // one spelling per name, the first given
  ])("%j is taken for %j", (input, candidates, expected) => {
    expect(closestNames(input, candidates)).toEqual(expected);
  });

  it.each([
    ["frobnicate", COMMANDS],
    ["x", ["-h", "-V"]], // one edit away, but that is all of it
    ["ab", ["cd"]],
    ["syncronize-all", COMMANDS],
    ["", COMMANDS],
    ["--", ["--help"]],
  ])("%j is taken for nothing", (input, candidates) => {
    expect(closestNames(input, candidates)).toEqual([]);
  });
});

describe("didYouMean", () => {
  it("asks about one name, several, or says nothing", () => {
    expect(didYouMean("snyc", COMMANDS)).toBe(' Did you mean "sync"?');
    expect(didYouMean("sta", COMMANDS)).toBe(' Did you mean "start" or "status"?');
    expect(didYouMean("s", ["sa", "sb", "sc"])).toBe("");
    expect(didYouMean("ab", ["abc", "abd", "abe"])).toBe(' Did you mean "abc", "abd" or "abe"?');
    expect(didYouMean("frobnicate", COMMANDS)).toBe("");
  });
});
