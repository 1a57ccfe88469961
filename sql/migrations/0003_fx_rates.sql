-- Exchange rates for the fx_conversion plugin (sql/functions/plugins/fx_conversion.sql.j2).
-- One row says: 1 `base` buys `rate` units of `quote`. The plugin uses the direct pair,
-- else the inverse of the reverse pair. Client functions run as mospay_sandbox, which
-- may read this table and nothing else; operators keep the rates current.

CREATE TABLE IF NOT EXISTS mospay_fn.fx_rates (
    base       text NOT NULL CHECK (base ~ '^[A-Z]{3}$'),
    quote      text NOT NULL CHECK (quote ~ '^[A-Z]{3}$' AND quote <> base),
    rate       numeric NOT NULL CHECK (rate > 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (base, quote)
);

REVOKE ALL ON mospay_fn.fx_rates FROM PUBLIC;
GRANT SELECT ON mospay_fn.fx_rates TO mospay_sandbox;

-- Illustrative seed rates; replace them with your treasury's.
INSERT INTO mospay_fn.fx_rates (base, quote, rate) VALUES
    ('USD', 'RWF', 1400),
    ('USD', 'KES', 129),
    ('KES', 'RWF', 10.85)
ON CONFLICT (base, quote) DO NOTHING;
