// Type-checked by js/ci.sh: the CommonJS entry's types.
import mailfault = require('mailfault');

async function main(): Promise<void> {
  const mf = await mailfault.startMailfault({ binary: process.env.MAILFAULT_BIN });
  const messages = await mf.messages({ limit: 10 });
  const ids: string[] = messages.map((m) => m.ID);
  await mf.setScenario('version: 1\n');
  await mf.reset();
  console.log(ids, mf.apiUrl);
  await mf.stop();
}
main();
