"""One citation per paper: the systems' papers and the datasets' sources. Systems and datasets take their ``paper``
from here, so a paper is cited the same way everywhere (run records, reports, the leaderboard, `sedbench list`)."""

from sedbench.core.data import Paper

ADAVANNE2017 = Paper(
    key="adavanne2017",
    citation=("S. Adavanne, T. Virtanen, \"Sound event detection using weakly labeled dataset with stacked "
              "convolutional and recurrent neural network\", DCASE 2017 Workshop"),
    url="https://arxiv.org/abs/1710.02998",
)

AMIRIPARIAN2018 = Paper(
    key="amiriparian2018",
    citation=("S. Amiriparian, S. Julka, N. Cummins, B. Schuller, \"Deep Convolutional Recurrent Neural Network for "
              "Rare Acoustic Event Detection\", 2018"),
)

BURGER2012 = Paper(
    key="burger2012",
    citation=("S. Burger, Q. Jin, P. F. Schulam, F. Metze, \"Noisemes: Manual Annotation of Environmental Noise in "
              "Audio Streams\", Carnegie Mellon University technical report CMU-LTI-12-017, 2012"),
    # the report has no DOI; this is a catalogue search for it in CMU's repository
    url="https://kilthub.cmu.edu/search?q=Noisemes%20manual%20annotation%20of%20environmental%20noise",
)

CAKIR2015 = Paper(
    key="cakir2015",
    citation=("E. Cakir, T. Heittola, H. Huttunen, T. Virtanen, \"Polyphonic Sound Event Detection Using Multi "
              "Label Deep Neural Networks\", IJCNN 2015"),
    url="https://doi.org/10.1109/IJCNN.2015.7280624",
)

CAKIR2017 = Paper(
    key="cakir2017",
    citation=("E. Cakir, G. Parascandolo, T. Heittola, H. Huttunen, T. Virtanen, \"Convolutional Recurrent Neural "
              "Networks for Polyphonic Sound Event Detection\", IEEE/ACM TASLP 25(6):1291-1303, 2017"),
    url="https://arxiv.org/abs/1702.06286",
)

FOSTER2015 = Paper(
    key="foster2015",
    citation=("P. Foster, S. Sigtia, S. Krstulovic, J. Barker, M. D. Plumbley, \"CHiME-Home: A Dataset for Sound "
              "Source Recognition in a Domestic Environment\", IEEE WASPAA 2015"),
    url="https://archive.org/details/chime-home",
)

MESAROS2010 = Paper(
    key="mesaros2010",
    citation=("A. Mesaros, T. Heittola, A. Eronen, T. Virtanen, \"Acoustic Event Detection in Real Life "
              "Recordings\", EUSIPCO 2010; also T. Heittola, A. Mesaros, A. Eronen, T. Virtanen, \"Context-dependent "
              "sound event detection\", EURASIP JASMP 2013:1"),
    url="https://doi.org/10.1186/1687-4722-2013-1",
)

MESAROS2016 = Paper(
    key="mesaros2016",
    citation=("A. Mesaros, T. Heittola, T. Virtanen, \"TUT Database for Acoustic Scene Classification and Sound "
              "Event Detection\", EUSIPCO 2016"),
    url="https://doi.org/10.1109/EUSIPCO.2016.7760424",
)

MESAROS2017 = Paper(
    key="mesaros2017",
    citation=("A. Mesaros, T. Heittola, A. Diment, B. Elizalde, A. Shah, E. Vincent, B. Raj, T. Virtanen, \"DCASE "
              "2017 Challenge Setup: Tasks, Datasets and Baseline System\", DCASE 2017 Workshop"),
    url="https://dcase.community/challenge2017/",
)

PHAN2018 = Paper(
    key="phan2018",
    citation=("H. Phan, O. Y. Ch\u00e9n, P. Koch, L. Pham, I. McLoughlin, A. Mertins, M. De Vos, \"Unifying Isolated "
              "and Overlapping Audio Event Detection with Multi-Label Multi-Task Convolutional Recurrent Neural "
              "Networks\", ICASSP 2019 (arXiv:1811.01092)"),
    url="http://arxiv.org/abs/1811.01092",
)

TURPAULT2019 = Paper(
    key="turpault2019",
    citation=("N. Turpault, R. Serizel, A. Parag Shah, J. Salamon, \"Sound event detection in domestic environments "
              "with weakly labeled data and soundscape synthesis\", DCASE 2019 Workshop, pp. 253-257; also "
              "R. Serizel, N. Turpault, A. Shah, J. Salamon, \"Sound event detection in synthetic domestic "
              "environments\", ICASSP 2020 (https://hal.inria.fr/hal-02355573)"),
    url="https://hal.inria.fr/hal-02160855",
)

WANG2017 = Paper(
    key="wang2017",
    citation=("Y. Wang, F. Metze, \"A Transfer Learning Based Feature Extractor for Polyphonic Sound Event Detection "
              "Using Connectionist Temporal Classification\", Proc. Interspeech 2017, pp. 3097-3101"),
    url="https://www.isca-speech.org/archive/interspeech_2017/wang17i_interspeech.html",
)

ZIEGER2005 = Paper(
    key="zieger2005",
    citation=("C. Zieger, M. Omologo, \"Acoustic event detection - ITC-irst AED database\", ITC-irst technical "
              "report, 2005"),
    url="https://shine.fbk.eu/taxonomy/term/41",
)
