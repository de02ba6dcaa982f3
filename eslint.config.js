// Lint configuration: neostandard (the style pino and fastify use) with TypeScript support.
import neostandard from 'neostandard'

export default neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**'] })
