//go:build ignore

// genicons draws the PWA's icons into static/: a white ring and a green dot on vakt's
// dark header colour, with the ring inside the safe zone so the icons are also maskable.
//
//	go generate ./ui/web
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	for _, size := range []int{192, 512} {
		if err := write(filepath.Join("static", "icon-"+strconv.Itoa(size)+".png"), draw(size)); err != nil {
			log.Fatal(err)
		}
	}
}

func draw(size int) *image.Paletted {
	pal := color.Palette{color.RGBA{0x22, 0x22, 0x22, 0xff}, color.White, color.RGBA{0x1b, 0x7f, 0x3a, 0xff}}
	img := image.NewPaletted(image.Rect(0, 0, size, size), pal)
	c := float64(size) / 2
	for y := range size {
		for x := range size {
			d := math.Hypot(float64(x)+0.5-c, float64(y)+0.5-c) / float64(size)
			switch {
			case d < 0.12:
				img.SetColorIndex(x, y, 2)
			case d > 0.22 && d < 0.30:
				img.SetColorIndex(x, y, 1)
			}
		}
	}
	return img
}

func write(name string, img image.Image) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
