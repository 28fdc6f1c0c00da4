package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/latchauth/latch/bench/internal/result"
	"github.com/latchauth/latch/internal/password"
)

// rawRate is a baseline: operations per second of wall time, and the CPU
// time one operation takes. The second hardly depends on what else the
// machine runs, so it still means something when a shared machine leaves
// the first noisy.
type rawRate struct {
	perS    float64
	cpuUSOp float64
}

// opRate runs op on workers goroutines until d has passed. Every started
// operation is let finish and counted, and the clock stops when the last
// one ends, so a slow operation (an argon2id hash takes tens of
// milliseconds) is not cut off. The CPU time is this process's, which
// does nothing else meanwhile.
func opRate(d time.Duration, workers int, op func()) rawRate {
	var n atomic.Int64
	var wg sync.WaitGroup
	cpu0 := selfCPU()
	start := time.Now()
	end := start.Add(d)
	for range workers {
		wg.Go(func() {
			for time.Now().Before(end) {
				op()
				n.Add(1)
			}
		})
	}
	wg.Wait()
	ops := float64(n.Load())
	return rawRate{perS: ops / time.Since(start).Seconds(), cpuUSOp: (selfCPU() - cpu0) / ops * 1e6}
}

// signingInput is a stand-in for a latch access token's header.payload,
// of the same size, so that the raw rates hash as many bytes as a real
// check does.
var signingInput = func() []byte {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"0190c3d8-7a4e-7c3b-9a1e-3f5d2b8c9e00","typ":"at+jwt"}`))
	p := base64.RawURLEncoding.EncodeToString([]byte(`{"aal":"aal1","amr":["pwd"],"aud":["http://localhost:8080"],"client_id":"latch",` +
		`"email":"ada@example.com","email_verified":true,"exp":1767225600,"iat":1767224700,"iss":"http://localhost:8080",` +
		`"jti":"0190c3d8-7a4e-7c3b-9a1e-3f5d2b8c9e03","sid":"0190c3d8-7a4e-7c3b-9a1e-3f5d2b8c9e02","sub":"0190c3d8-7a4e-7c3b-9a1e-3f5d2b8c9e01"}`))
	return []byte(h + "." + p)
}()

// sigOps returns a signature check and a signature creation on
// signingInput with a fresh key of alg, each with only the standard
// library: the floor under what latch and the verify package do per token.
func sigOps(alg string) (verifyOp, signOp func(), err error) {
	digest := func() []byte { d := sha256.Sum256(signingInput); return d[:] }
	switch alg {
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest())
		if err != nil {
			return nil, nil, err
		}
		// JWS carries r||s, not DER; the check starts from the two
		// integers, as a JOSE library does after splitting them.
		raw := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		return func() {
				r, s := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
				if !ecdsa.Verify(&k.PublicKey, digest(), r, s) {
					panic("baseline: ES256 signature does not verify")
				}
			}, func() {
				if _, _, err := ecdsa.Sign(rand.Reader, k, digest()); err != nil {
					panic(err)
				}
			}, nil
	case "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		sig := ed25519.Sign(priv, signingInput)
		return func() {
				if !ed25519.Verify(pub, signingInput, sig) {
					panic("baseline: EdDSA signature does not verify")
				}
			}, func() {
				ed25519.Sign(priv, signingInput)
			}, nil
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, err
		}
		sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest())
		if err != nil {
			return nil, nil, err
		}
		return func() {
				if rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest(), sig) != nil {
					panic("baseline: RS256 signature does not verify")
				}
			}, func() {
				if _, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest()); err != nil {
					panic(err)
				}
			}, nil
	}
	return nil, nil, fmt.Errorf("no baseline for signing algorithm %q", alg)
}

// baseliner measures the raw rates. Each run also re-measures the
// parallel rate its figures are divided by just before it starts: on a
// shared machine the CPU left over by other work drifts within minutes,
// and a ratio means most when both sides saw the same machine.
type baseliner struct {
	d            time.Duration // argon2id; the signature rates take d/2
	alg          string
	params       password.Params
	hash         func()
	verify, sign func()
}

func newBaseliner(d time.Duration, alg string) (*baseliner, error) {
	p := password.DefaultParams()
	salt := make([]byte, p.SaltLen)
	rand.Read(salt)
	verifyOp, signOp, err := sigOps(alg)
	if err != nil {
		return nil, err
	}
	return &baseliner{
		d: d, alg: alg, params: p, verify: verifyOp, sign: signOp,
		hash: func() {
			argon2.IDKey([]byte("correct horse battery staple"), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
		},
	}, nil
}

// all takes every raw rate: argon2id with latch's parameters, one at a
// time and on every CPU, then the signature check and signature creation
// of the configured algorithm likewise.
func (b *baseliner) all() result.Baselines {
	p := b.params
	r := result.Baselines{
		Argon2Params: fmt.Sprintf("argon2id m=%d KiB, t=%d, p=%d", p.Memory, p.Time, p.Threads),
		SigAlg:       b.alg,
	}
	if b.d <= 0 {
		return r
	}
	cpus := runtime.GOMAXPROCS(0)
	var one rawRate
	one = opRate(b.d, 1, b.hash)
	r.Argon2Single, r.Argon2CPUUS = one.perS, one.cpuUSOp
	r.Argon2Parallel = opRate(b.d, cpus, b.hash).perS
	one = opRate(b.d/2, 1, b.verify)
	r.VerifySingle, r.VerifyCPUUS = one.perS, one.cpuUSOp
	r.VerifyParallel = opRate(b.d/2, cpus, b.verify).perS
	one = opRate(b.d/2, 1, b.sign)
	r.SignSingle, r.SignCPUUS = one.perS, one.cpuUSOp
	r.SignParallel = opRate(b.d/2, cpus, b.sign).perS
	return r
}

// forKind names the raw operation that bounds k and measures it on every
// CPU now, unless done already holds it; it returns a zero rawRate for a
// kind with no such floor.
func (b *baseliner) forKind(k kind, done map[string]rawRate) (name string, rate rawRate) {
	if b.d <= 0 {
		return "", rawRate{}
	}
	var d time.Duration
	var op func()
	switch k {
	case kSignup, kLogin:
		name, d, op = "argon2id hashes/s, all CPUs", b.d, b.hash
	case kRefresh:
		name, d, op = b.alg+" signatures/s, all CPUs", b.d/2, b.sign
	case kUser, kVerify:
		name, d, op = b.alg+" signature checks/s, all CPUs", b.d/2, b.verify
	default:
		return "", rawRate{}
	}
	if _, ok := done[name]; !ok {
		done[name] = opRate(d, runtime.GOMAXPROCS(0), op)
	}
	return name, done[name]
}
