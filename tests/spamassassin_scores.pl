# SpamAssassin's score of each message file named on the command line, as
# `spamassassin -t -L` would give it (the same engine and rules, local tests only: no
# DNS, no network), in one Perl process: the rules are compiled once, not per message.
# Usage: perl spamassassin_scores.pl STATE_DIR FILE...; prints "FILE<TAB>SCORE<TAB>TESTS".
use strict;
use warnings;
use Mail::SpamAssassin;

my $state = shift @ARGV;
my $sa = Mail::SpamAssassin->new({
    local_tests_only     => 1,
    dont_copy_prefs      => 1,
    userstate_dir        => $state,
    userprefs_filename   => "$state/user_prefs",
    home_dir_for_helpers => $state,
});
$sa->compile_now(0, 1);
for my $file (@ARGV) {
    open(my $fh, '<', $file) or die "$file: $!";
    my $raw = do { local $/; <$fh> };
    close $fh;
    my $mail = $sa->parse($raw);
    my $status = $sa->check($mail);
    printf "%s\t%.3f\t%s\n", $file, $status->get_score(), $status->get_names_of_tests_hit();
    $status->finish;
    $mail->finish;
}
