// Jest runs tests in a vm context whose Symbol lacks Node's dispose symbols; give it the same
// registered symbols Node uses, so `using` and frame-source agree on them.
Symbol.dispose ??= Symbol.for('nodejs.dispose');
Symbol.asyncDispose ??= Symbol.for('nodejs.asyncDispose');
