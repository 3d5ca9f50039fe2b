// Opens the catalogue: a `postgres` connection pool configured the one way every query in
// coordinator/catalogue expects — column names arrive camelCased, int8 arrives as a JS number
// (sizes and counts stay far below 2^53), notices are not printed.
import postgres from 'postgres';

/** The catalogue connection pool. */
export type Catalogue = postgres.Sql<{}>;
/** Anything queries can run on: the pool itself or a transaction. */
export type Queryable = postgres.ISql<{}>;
/** A transaction, for the few operations that need several statements to agree. */
export type Transaction = postgres.TransactionSql<{}>;

export interface CatalogueOptions {
  /** Connections in the pool; default 10. */
  maxConnections?: number;
  /** Seconds an idle connection is kept; default 30. */
  idleTimeoutSeconds?: number;
  /** Seconds to wait for a connection to open; default 10. */
  connectTimeoutSeconds?: number;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
}

const INT8_OID = 20;

/** Answers when Postgres does (a health check). */
export async function pingCatalogue(db: Queryable): Promise<void> {
  await db`select 1`;
}

export function connectCatalogue(url: string, options: CatalogueOptions = {}): Catalogue {
  return postgres(url, {
    max: options.maxConnections ?? 10,
    idle_timeout: options.idleTimeoutSeconds ?? 30,
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    onnotice: () => {},
    transform: { column: { from: postgres.toCamel } },
    types: {
      int8: {
        to: INT8_OID,
        from: [INT8_OID],
        serialize: (value: number) => String(value),
        parse: (value: string) => Number(value),
      },
    },
    connection: { application_name: options.applicationName ?? 'deltachain-coordinator' },
  });
}
