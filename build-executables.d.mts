export declare const EXECUTABLES: readonly { executable: string; module: string; expression: string }[];
