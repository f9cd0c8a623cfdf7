package app

import (
	"context"

	"github.com/jiraduck/jiraduck/internal/config"
	"github.com/jiraduck/jiraduck/internal/metrics"
	"github.com/jiraduck/jiraduck/internal/publish"
	"github.com/sirupsen/logrus"
)

// PublishOptions are the bucket publisher's options of the settings.
func PublishOptions(cfg *config.Config, log logrus.FieldLogger) publish.Options {
	return publish.Options{
		DataDir: cfg.DataDir, Bucket: cfg.PublishBucket, Prefix: cfg.PublishPrefix, Site: cfg.Site,
		Endpoint: cfg.PublishEndpoint, Region: cfg.PublishRegion, PathStyle: cfg.PublishPathStyle,
		Credentials: publish.Credentials{
			AccessKeyID: cfg.AWS.AccessKeyID.Reveal(), SecretAccessKey: cfg.AWS.SecretAccessKey.Reveal(),
			SessionToken: cfg.AWS.SessionToken.Reveal(), Profile: cfg.AWS.Profile, NoInstanceMetadata: cfg.AWS.NoInstanceMetadata,
		},
		Logger: log,
	}
}

// NewPublisher builds the bucket publisher of the settings (no request is
// made); nil when JIRADUCK_PUBLISH_URL is unset. tune, if set, adjusts its
// options (tests).
func NewPublisher(ctx context.Context, cfg *config.Config, log logrus.FieldLogger, tune func(*publish.Options)) (*publish.Publisher, error) {
	if !cfg.Publishing() {
		return nil, nil
	}
	opts := PublishOptions(cfg, log)
	if tune != nil {
		tune(&opts)
	}
	return publish.New(ctx, opts)
}

// publishMetrics maps the publisher's status to the metrics'.
func publishMetrics(p *publish.Publisher) func() metrics.PublishStatus {
	return func() metrics.PublishStatus {
		st := p.Status()
		return metrics.PublishStatus{BacklogFiles: st.BacklogFiles, BacklogBytes: st.BacklogBytes, BacklogOldest: st.BacklogOldest,
			LastUpload: st.LastUpload, Uploaded: st.Uploaded, Deleted: st.Deleted, UploadedBytes: st.UploadedBytes, FailedPasses: st.FailedPasses}
	}
}
