// Jest loads global setup outside its transform; tsx lets it run the TypeScript sources directly.
import { register } from 'tsx/esm/api';

const unregister = register();
const { startServices } = await import('./services.ts');
// tsx's loader keeps a message port open; release it so jest can exit.
await unregister();

export default startServices;
