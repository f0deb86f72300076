package dnsupdate

import "github.com/lbd-project/lbd/internal/tsig"

// Key is a TSIG key (RFC 8945). Name is the key name as configured on the
// server ("lbd-internal." or without the final dot), Algorithm one of
// hmac-md5 (also hmac-md5.sig-alg.reg.int.), hmac-sha1, hmac-sha224,
// hmac-sha256, hmac-sha384, hmac-sha512 ("" = hmac-sha256), Secret the
// base64-encoded shared secret.
type Key struct {
	Name, Algorithm, Secret string
}

// DefaultAlgorithm is used when Key.Algorithm is empty.
const DefaultAlgorithm = tsig.DefaultAlgorithm

// CanonicalAlgorithm returns the wire name of a TSIG algorithm given in any
// accepted spelling ("HMAC-SHA256", "hmac-sha256.", "hmac-md5",
// "hmac-md5.sig-alg.reg.int"); "" means DefaultAlgorithm.
func CanonicalAlgorithm(alg string) (string, error) { return tsig.CanonicalAlgorithm(alg) }

// Validate reports an empty or malformed name, an unknown algorithm and a
// secret that is empty or not base64.
func (k Key) Validate() error {
	_, err := k.compile()
	return err
}

// compile validates k; the result signs requests and verifies replies (it
// is a dns.TsigProvider that accepts hmac-md5, unlike the library's).
func (k Key) compile() (*tsig.Key, error) { return tsig.Compile(k.Name, k.Algorithm, k.Secret) }
