// Command profile_example: the Go binding on whatever model the path names.
//
//	profile_example BUNDLE_DIR CAPTION IMAGE [CAPTION IMAGE ...]   profile ("-" = none)
//	profile_example BERT_DIR TEXT...                  x_T of each text
//	profile_example INCEPTION.safetensors IMAGE...    pool features of each image
//	profile_example VOCAB.txt TEXT...                 WordPiece ids
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	ipf "influencer_profiler/bindings/go"
)

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func head(v []float32) string {
	parts := []string{}
	for i := 0; i < len(v) && i < 4; i++ {
		parts = append(parts, fmt.Sprintf("%.5f", v[i]))
	}
	return fmt.Sprintf("[%d]: %s ...", len(v), strings.Join(parts, " "))
}

func run(path string, inputs []string) error {
	fmt.Println("libinfluencer_profiler", ipf.Version())
	var m *ipf.Model
	var err error
	switch {
	case exists(filepath.Join(path, "profiler.safetensors")):
		m, err = ipf.LoadModel(path)
	case exists(filepath.Join(path, "config.json")):
		m, err = ipf.LoadBERT(path)
	case strings.HasSuffix(path, ".safetensors"):
		m, err = ipf.LoadInception(path, true)
	default:
		m, err = ipf.LoadVocab(path, true)
	}
	if err != nil {
		return err
	}
	defer m.Close()
	s, err := m.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	switch {
	case m.Has(ipf.ComponentProfiler):
		if len(inputs)%2 != 0 {
			return fmt.Errorf("posts are CAPTION IMAGE pairs")
		}
		var posts []ipf.Post
		for i := 0; i < len(inputs); i += 2 {
			p := ipf.Post{ID: fmt.Sprintf("post%d", i/2)}
			if inputs[i] != "-" {
				p.Caption = inputs[i]
			}
			if inputs[i+1] != "-" {
				p.ImagePath = inputs[i+1]
			}
			posts = append(posts, p)
		}
		r, err := s.Profile(posts)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(r.Probs))
		for n := range r.Probs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Printf("influencer %-10s %.4f\n", n, r.Probs[n])
		}
		fmt.Println("label:", r.Label)
		for _, p := range r.Posts {
			fmt.Printf("%s attention %.4f class %s\n", p.ID, p.Attention, p.Label)
		}
	case m.Has(ipf.ComponentTextEncoder):
		vecs, err := s.EncodeTexts(inputs)
		if err != nil {
			return err
		}
		for i, v := range vecs {
			fmt.Println(inputs[i], head(v))
		}
	case m.Has(ipf.ComponentImageEncoder):
		for _, img := range inputs {
			v, err := s.EncodeImageFile(img)
			if err != nil {
				return err
			}
			fmt.Println(img, head(v))
		}
	default:
		for _, t := range inputs {
			ids, err := s.Tokenize(t)
			if err != nil {
				return err
			}
			fmt.Println(t+":", ids)
		}
	}
	return nil
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: profile_example MODEL_PATH INPUT...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
