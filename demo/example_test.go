package demo_test

import (
	"fmt"

	"github.com/lastmile/lastmile/demo"
)

// The same seed always gives the same county.
func ExampleGenerate() {
	county := demo.Generate(1)
	fmt.Println(len(county.Features("villages")), "villages")
	fmt.Println(len(county.Features("house_renovations")), "house renovations")
	fmt.Println(county.Checksum() == demo.Generate(1).Checksum())
	// Output:
	// 512 villages
	// 565 house renovations
	// true
}
