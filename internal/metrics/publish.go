package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PublishStatus is what the metrics read of the bucket's publisher when
// scraped.
type PublishStatus struct {
	BacklogFiles  int
	BacklogBytes  int64
	BacklogOldest time.Time
	LastUpload    time.Time
	// Totals since the process started.
	Uploaded, Deleted, UploadedBytes, FailedPasses int64
}

// WatchPublish registers the jiraduck_publish_* families, read from status
// at each scrape. Serve calls it when JIRADUCK_PUBLISH_URL is set.
func (m *Metrics) WatchPublish(status func() PublishStatus) {
	gauge := func(name, help string, f func(PublishStatus) float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(status()) }))
	}
	counter := func(name, help string, f func(PublishStatus) float64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return f(status()) }))
	}
	gauge("jiraduck_publish_backlog_files", "Files the bucket lacks or still holds, the manifest counted: uploads and deletes waiting.",
		func(s PublishStatus) float64 { return float64(s.BacklogFiles) })
	gauge("jiraduck_publish_backlog_bytes", "Bytes waiting to be uploaded to the bucket.",
		func(s PublishStatus) float64 { return float64(s.BacklogBytes) })
	gauge("jiraduck_publish_backlog_oldest_seconds", "Age of the oldest change the bucket lacks (0 when it holds everything).",
		func(s PublishStatus) float64 {
			if s.BacklogOldest.IsZero() {
				return 0
			}
			return time.Since(s.BacklogOldest).Seconds()
		})
	gauge("jiraduck_publish_last_upload_timestamp_seconds", "Unix time of the last file uploaded to the bucket (0: none since start).",
		func(s PublishStatus) float64 {
			if s.LastUpload.IsZero() {
				return 0
			}
			return float64(s.LastUpload.Unix())
		})
	counter("jiraduck_publish_files_uploaded_total", "Files uploaded to the bucket, the manifest counted.",
		func(s PublishStatus) float64 { return float64(s.Uploaded) })
	counter("jiraduck_publish_files_deleted_total", "Files deleted from the bucket because the tree no longer holds them.",
		func(s PublishStatus) float64 { return float64(s.Deleted) })
	counter("jiraduck_publish_bytes_uploaded_total", "Bytes uploaded to the bucket.",
		func(s PublishStatus) float64 { return float64(s.UploadedBytes) })
	counter("jiraduck_publish_failures_total", "Publish passes that failed (the backlog is kept and tried again).",
		func(s PublishStatus) float64 { return float64(s.FailedPasses) })
}
