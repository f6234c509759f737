// Types of bin/dist.js for the tests that import it.
export declare const STAMP: string;
export declare function distIsCurrent(root: string): boolean;
