package publish

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
)

// metaSHA256 is the user metadata (x-amz-meta-sha256) that carries a file's
// SHA-256 in hex on its object: S3's own checksum of an object uploaded in
// parts is a checksum of the parts' checksums, not of the file.
const metaSHA256 = "sha256"

// bucket is the S3 client of one destination.
type bucket struct {
	c              *s3.Client
	name           string
	partSize       int64
	multipartAbove int64
}

// newBucket builds the client: the standard AWS credential chain (with the
// environment's keys, if any, first), the region, the endpoint and path-style
// addressing of the options, and the SDK's retries of 5xx, throttling and
// timeouts with backoff.
func newBucket(ctx context.Context, o Options) (*bucket, error) {
	var load []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		load = append(load, awsconfig.WithRegion(o.Region))
	} else if o.Endpoint != "" {
		// An S3-compatible server rarely cares; the signature needs one.
		load = append(load, awsconfig.WithDefaultRegion("us-east-1"))
	}
	if o.Credentials.AccessKeyID != "" {
		load = append(load, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			o.Credentials.AccessKeyID, o.Credentials.SecretAccessKey, o.Credentials.SessionToken)))
	}
	if o.Credentials.Profile != "" {
		load = append(load, awsconfig.WithSharedConfigProfile(o.Credentials.Profile))
	}
	if o.Credentials.NoInstanceMetadata {
		load = append(load, awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	attempts := o.Attempts
	load = append(load, awsconfig.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = attempts
			so.MaxBackoff = 20 * time.Second
			// The pass's own backoff paces an outage; the client-side
			// quota would only turn retries into "quota exceeded".
			so.RateLimiter = ratelimit.None
		})
	}))
	load = append(load, awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		// A server that takes a request and never answers holds a pass
		// for no longer than this.
		t.ResponseHeaderTimeout = time.Minute
	})))
	// The SDK's own log lines (skipped response checksums and the like)
	// would bypass jiraduck's logger; its errors say what matters.
	load = append(load, awsconfig.WithLogger(logging.Nop{}))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("publish: load the AWS settings: %w", err)
	}
	if cfg.Region == "" {
		return nil, permanent(errors.New("publish: no region: set JIRADUCK_PUBLISH_REGION (or AWS_REGION, or a region in the AWS profile)"))
	}
	c := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
		if o.HTTPClient != nil {
			so.HTTPClient = o.HTTPClient
		}
	})
	return &bucket{c: c, name: o.Bucket, partSize: o.PartSize, multipartAbove: o.MultipartAbove}, nil
}

func contentType(key string) string {
	if strings.HasSuffix(key, ".json") {
		return "application/json"
	}
	return "application/vnd.apache.parquet"
}

// put uploads size bytes of f as key, in one request or, past
// multipartAbove, in parts, with its SHA-256 in the object's metadata and as
// the request's checksum, which S3 verifies before it stores anything.
func (b *bucket) put(ctx context.Context, key string, f io.ReaderAt, size int64, sum string) error {
	raw, err := hex.DecodeString(sum)
	if err != nil {
		return fmt.Errorf("upload %s: bad digest %q", key, sum)
	}
	meta := map[string]string{metaSHA256: sum}
	if size <= b.multipartAbove {
		_, err := b.c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(b.name), Key: aws.String(key), Body: io.NewSectionReader(f, 0, size),
			ContentLength: aws.Int64(size), ContentType: aws.String(contentType(key)), Metadata: meta,
			ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(raw)),
		})
		if err != nil {
			return fmt.Errorf("upload %s: %w", key, err)
		}
		return nil
	}
	return b.putParts(ctx, key, f, size, meta)
}

func (b *bucket) putParts(ctx context.Context, key string, f io.ReaderAt, size int64, meta map[string]string) error {
	created, err := b.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(b.name), Key: aws.String(key), ContentType: aws.String(contentType(key)), Metadata: meta,
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	})
	if err != nil {
		return fmt.Errorf("upload %s: start parts: %w", key, err)
	}
	abort := func(cause error) error {
		// The parts uploaded so far cost storage until aborted; a server
		// gone for good leaves them to the bucket's lifecycle rule.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = b.c.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(b.name), Key: aws.String(key), UploadId: created.UploadId})
		return cause
	}
	var parts []types.CompletedPart
	for n, off := int32(1), int64(0); off < size; n, off = n+1, off+b.partSize {
		length := min(b.partSize, size-off)
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, off, length)); err != nil {
			return abort(fmt.Errorf("upload %s: read part %d: %w", key, n, err))
		}
		partSum := base64.StdEncoding.EncodeToString(h.Sum(nil))
		out, err := b.c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(b.name), Key: aws.String(key), UploadId: created.UploadId, PartNumber: aws.Int32(n),
			Body: io.NewSectionReader(f, off, length), ContentLength: aws.Int64(length), ChecksumSHA256: aws.String(partSum),
		})
		if err != nil {
			return abort(fmt.Errorf("upload %s: part %d: %w", key, n, err))
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n), ChecksumSHA256: aws.String(partSum)})
	}
	_, err = b.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b.name), Key: aws.String(key), UploadId: created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return abort(fmt.Errorf("upload %s: complete parts: %w", key, err))
	}
	return nil
}

func (b *bucket) delete(ctx context.Context, key string) error {
	if _, err := b.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)}); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// list returns the objects under prefix by key relative to it, with the
// SHA-256 their metadata records ("" when it records none: such an object
// is uploaded again).
func (b *bucket) list(ctx context.Context, prefix string) (map[string]object, error) {
	out := map[string]object{}
	pages := s3.NewListObjectsV2Paginator(b.c, &s3.ListObjectsV2Input{Bucket: aws.String(b.name), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			rel := strings.TrimPrefix(key, prefix)
			if rel == "" || strings.HasSuffix(rel, "/") {
				continue
			}
			head, err := b.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.name), Key: o.Key})
			var nf *types.NotFound
			if errors.As(err, &nf) {
				continue // deleted since the listing
			}
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", key, err)
			}
			out[rel] = object{SHA256: head.Metadata[metaSHA256], Bytes: aws.ToInt64(o.Size), UploadedAt: aws.ToTime(o.LastModified)}
		}
	}
	return out, nil
}

// permanentError is a failure that trying again will not mend: the bucket
// is missing, the credentials are refused, no region is set.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err} }

// IsPermanent reports whether err is a failure that waits for an operator.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// explain turns the S3 errors an operator must act on into a sentence that
// says what to do, marked permanent; other errors are returned as they are.
func explain(err error, bucketName string) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			return permanent(fmt.Errorf("bucket %s does not exist: create it, or correct JIRADUCK_PUBLISH_URL (and JIRADUCK_PUBLISH_ENDPOINT): %w", bucketName, err))
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "InvalidClientTokenId",
			"XAdminUserNotFound": // versitygw's InvalidAccessKeyId
			return permanent(fmt.Errorf("the bucket refused the credentials (%s): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE: %w", ae.ErrorCode(), err))
		case "AccessDenied", "AllAccessDisabled", "Forbidden":
			return permanent(fmt.Errorf("access to bucket %s denied: the credentials need s3:PutObject, s3:DeleteObject and s3:ListBucket on it (docs/operations.md): %w", bucketName, err))
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException":
			return permanent(fmt.Errorf("bucket %s is in another region: set JIRADUCK_PUBLISH_REGION to its region: %w", bucketName, err))
		case "InvalidBucketName":
			return permanent(fmt.Errorf("bucket name %s refused: %w", bucketName, err))
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusUnauthorized || re.HTTPStatusCode() == http.StatusForbidden) {
		// A server of another make, with codes of its own.
		return permanent(fmt.Errorf("the bucket refused the request (%d): check the credentials and their permissions on bucket %s: %w", re.HTTPStatusCode(), bucketName, err))
	}
	var se *v4.SigningError
	if errors.As(err, &se) {
		return permanent(fmt.Errorf("no usable AWS credentials (environment, shared files, profile or instance role): %w", err))
	}
	return err
}

// scrub removes the credentials of the options from text.
func (o Options) scrub(s string) string {
	for _, secret := range []string{o.Credentials.SecretAccessKey, o.Credentials.SessionToken, o.Credentials.AccessKeyID} {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// scrubbed is an error whose text went through Options.scrub.
type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

func (o Options) scrubErr(err error) error {
	if err == nil {
		return nil
	}
	if msg := o.scrub(err.Error()); msg != err.Error() {
		return &scrubbed{msg: msg, err: err}
	}
	return err
}
