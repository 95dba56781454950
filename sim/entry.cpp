// Process entry for every vmxsim binary. IEEE 1666 lets the application own
// main() and call sc_elab_and_sim(), which then calls sc_main(). We do, to
// turn off the banner libsystemc prints on stderr before sc_main (Debian's
// 2.3.4 reads SYSTEMC_DISABLE_COPYRIGHT_MESSAGE; a user's own setting wins).
#include <cstdlib>

#include <systemc>

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  return sc_core::sc_elab_and_sim(argc, argv);
}
