package metrics

import "github.com/prometheus/client_golang/prometheus"

// MemoryUse is DuckDB's memory for one tag (BASE_TABLE, ART_INDEX, ...): in its
// buffer pool, and spilled to its temporary files.
type MemoryUse struct {
	Tag       string
	Bytes     int64
	TempBytes int64
}

// duckdbMemory reads DuckDB's memory by tag when scraped. A read that fails
// (the store closing, or out of memory itself) leaves the families out of
// that scrape rather than reporting zeros.
type duckdbMemory struct {
	read      func() ([]MemoryUse, error)
	pool      *prometheus.Desc
	temporary *prometheus.Desc
}

func newDuckDBMemory(read func() ([]MemoryUse, error)) *duckdbMemory {
	return &duckdbMemory{
		read: read,
		pool: prometheus.NewDesc("jiraduck_duckdb_memory_bytes",
			"Bytes DuckDB holds in its buffer pool (capped by JIRADUCK_DUCKDB_MEMORY_LIMIT), by tag of duckdb_memory().", []string{"tag"}, nil),
		temporary: prometheus.NewDesc("jiraduck_duckdb_temporary_bytes",
			"Bytes DuckDB has spilled to its temporary files, by tag of duckdb_memory().", []string{"tag"}, nil),
	}
}

func (d *duckdbMemory) Describe(ch chan<- *prometheus.Desc) {
	ch <- d.pool
	ch <- d.temporary
}

func (d *duckdbMemory) Collect(ch chan<- prometheus.Metric) {
	uses, err := d.read()
	if err != nil {
		return
	}
	for _, u := range uses {
		ch <- prometheus.MustNewConstMetric(d.pool, prometheus.GaugeValue, float64(u.Bytes), u.Tag)
		ch <- prometheus.MustNewConstMetric(d.temporary, prometheus.GaugeValue, float64(u.TempBytes), u.Tag)
	}
}
